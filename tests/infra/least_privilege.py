"""Reads the IAM roles of infra/template.yaml and the README's table "IAM actions per function",
and lists every way a role differs from its row of that table."""

import pathlib
import re

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
README = ROOT / "README.md"

# function -> (its role, its log group) in the template
FUNCTIONS = {
    "oauth-callback": ("OAuthCallbackRole", "OAuthCallbackLogs"),
    "dataset-lookup": ("DatasetLookupRole", "DatasetLookupLogs"),
    "token-fetch": ("TokenFetchRole", "TokenFetchLogs"),
    "offboarding": ("OffboardingRole", "OffboardingLogs"),
}


def load_template():
    template, problems = decode(str(TEMPLATE))
    if problems:
        raise ValueError(f"{TEMPLATE} does not parse: {problems}")
    return template


def readme_table(text=None):
    """{function: {(action, resource)}} from the README's table."""
    text = text if text is not None else README.read_text()
    section = text.split("### IAM actions per function", 1)[1]
    grants = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("function", "") or set(cells[0]) <= set("-: "):
            continue
        function, resource, actions = cells
        for action in re.split(r"[,\s]+", actions):
            if action:
                grants.setdefault(function, set()).add((action.strip("`"), resource))
    return grants


def resource_name(resource, own_logs):
    """The table's name for a policy resource; anything unknown is spelled out (and so fails)."""
    if resource == "*":
        return "*"
    if resource == {"Ref": "AppSecret"}:
        return "app secret"
    if resource == {"Fn::GetAtt": ["Table", "Arn"]}:
        return "table"
    if resource == {"Fn::GetAtt": ["SecretsKey", "Arn"]}:
        return "secrets key"
    if resource == {"Fn::GetAtt": [own_logs, "Arn"]}:
        return "own log group"
    sub = resource.get("Fn::Sub") if isinstance(resource, dict) else None
    if sub == "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:meta-login/${Stage}/clients/*":
        return "client secrets"
    return repr(resource)


def as_list(value):
    return value if isinstance(value, list) else [value]


def granted(template, role_name, own_logs):
    """{(action, resource)} a role's policies grant, plus markers for what the table cannot hold."""
    role = template["Resources"][role_name]["Properties"]
    grants = set()
    for arn in role.get("ManagedPolicyArns", []):
        grants.add(("managed policy", repr(arn)))
    for policy in role.get("Policies", []):
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                grants.add(("statement", repr(statement)))
                continue
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    grants.add((action, resource_name(resource, own_logs)))
    return grants


def violations(template, table):
    """What the roles hold beyond the table, and what the table lists that no role holds."""
    found = []
    other_policies = [
        name for name, res in template["Resources"].items()
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    ]
    found += [f"extra IAM policy resource {name}" for name in other_policies]
    for function, (role, logs) in FUNCTIONS.items():
        have = granted(template, role, logs)
        allowed = table.get(function, set())
        found += [f"{function}: {a} on {r} is not in the README table" for a, r in sorted(have - allowed)]
        found += [f"{function}: the README lists {a} on {r}, the role lacks it" for a, r in sorted(allowed - have)]
    return found
