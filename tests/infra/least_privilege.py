"""Reads the IAM roles of infra/template.yaml and the README's table "IAM actions per function",
and lists every way a role differs from its row of that table; also answers who can do what on
one concrete ARN (wildcards included), and what is wrong with the KMS key policy."""

import fnmatch
import json
import pathlib
import re

import cfnlint
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
    if resource == {"Ref": "PartnerSecret"}:
        return "partner secret"
    if resource == {"Fn::GetAtt": ["Table", "Arn"]}:
        return "table"
    if resource == {"Fn::Sub": "${Table.Arn}/index/due"}:
        return "due index"
    if resource == {"Fn::GetAtt": ["SecretsKey", "Arn"]}:
        return "secrets key"
    if resource == {"Fn::GetAtt": [own_logs, "Arn"]}:
        return "own log group"
    sub = resource.get("Fn::Sub") if isinstance(resource, dict) else None
    if sub == "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:meta-login/${Stage}/clients/*":
        return "client secrets"
    if sub == "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:meta-login/${Stage}/partner/pages/*":
        return "partner page secrets"
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


# ---------------------------------------------------------------- who can do what, concretely

# What the template's names become in one imagined deployment (Stage dev).
ACCOUNT = "123456789012"
REGION = "us-east-1"
SUB_VALUES = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "Stage": "dev",
    "Table.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/meta-login-dev",
}
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:meta-login/dev/{{}}-AbCdEf"
# A Ref to a secret is its full ARN, with Secrets Manager's random suffix.
REFS = {
    "AppSecret": SECRET_ARN.format("app"),
    "PartnerSecret": SECRET_ARN.format("partner/system-user"),
}
PARTNER_SECRET_ARN = REFS["PartnerSecret"]
CLIENT_SECRET_ARN = SECRET_ARN.format("clients/123/bisu")


def concrete(resource):
    """The ARN (or ARN pattern) a policy resource stands for; None when it cannot be told,
    which callers treat as matching anything."""
    if isinstance(resource, str):
        return resource
    if not isinstance(resource, dict) or len(resource) != 1:
        return None
    (fn, arg), = resource.items()
    if fn == "Ref":
        return REFS.get(arg)
    if fn == "Fn::GetAtt" and arg == ["Table", "Arn"]:
        return SUB_VALUES["Table.Arn"]
    if fn == "Fn::Sub" and isinstance(arg, str):
        unknown = [name for name in re.findall(r"\$\{([^}!]+)\}", arg) if name not in SUB_VALUES]
        if unknown:
            return None
        return re.sub(r"\$\{([^}!]+)\}", lambda m: SUB_VALUES[m.group(1)], arg)
    return None


def pattern_matches(pattern, value, case_sensitive=True):
    """IAM's matching: * any run of characters, ? one character."""
    if pattern is None:
        return True
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def statements(template, role_name):
    role = template["Resources"][role_name]["Properties"]
    for policy in role.get("Policies", []):
        yield from as_list(policy["PolicyDocument"]["Statement"])


def can(template, role_name, action, arn):
    """Whether any Allow statement of the role's inline policies could allow `action` on `arn`.
    Conservative: a managed policy, NotAction, NotResource or an unreadable resource counts as yes;
    conditions are ignored (they only narrow)."""
    role = template["Resources"][role_name]["Properties"]
    if role.get("ManagedPolicyArns"):
        return True
    for statement in statements(template, role_name):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            return True
        if not any(pattern_matches(a, action, case_sensitive=False) for a in as_list(statement["Action"])):
            continue
        if any(pattern_matches(concrete(r), arn) for r in as_list(statement["Resource"])):
            return True
    return False


def functions_that_can(template, action, arn):
    return {function for function, (role, _) in FUNCTIONS.items() if can(template, role, action, arn)}


def unknown_actions(template):
    """Actions granted to a role that name nothing in IAM (cfn-lint's copy of the service
    authorization reference), e.g. dynamodb:TransactWriteItems: they grant nothing."""
    data = json.loads((pathlib.Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())
    found = []
    for function, (role, _) in FUNCTIONS.items():
        for statement in statements(template, role):
            for action in as_list(statement.get("Action", [])):
                service, _, name = action.partition(":")
                known = data.get(service.lower(), {}).get("Actions", {})
                if not any(pattern_matches(name, a, case_sensitive=False) for a in known):
                    found.append(f"{function}: {action} is not an IAM action")
    return found


# ---------------------------------------------------------------- the KMS key policy

KMS_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
           "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext"]
SECRETS_MANAGER_ONLY = {
    "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
    "kms:CallerAccount": {"Ref": "AWS::AccountId"},
}
ACCOUNT_ROOT = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}


def key_policy_problems(template):
    """Every Allow of the key policy is for this account's root (so IAM policies decide who);
    none grants kms:* without conditions; every statement that allows using the key (Encrypt,
    Decrypt, ReEncrypt, GenerateDataKey) does so only through Secrets Manager for this account."""
    found = []
    policy = template["Resources"]["SecretsKey"]["Properties"]["KeyPolicy"]
    allows = [s for s in as_list(policy["Statement"]) if s.get("Effect") == "Allow"]
    for statement in allows:
        sid = statement.get("Sid", repr(statement))
        if "NotAction" in statement or "NotPrincipal" in statement or "NotResource" in statement:
            found.append(f"{sid}: NotAction, NotPrincipal or NotResource")
            continue
        if statement.get("Principal") != {"AWS": ACCOUNT_ROOT}:
            found.append(f"{sid}: principal {statement.get('Principal')!r} is not this account's root")
        actions = as_list(statement["Action"])
        condition = statement.get("Condition")
        if any(a in ("*", "kms:*") for a in actions) and not condition:
            found.append(f"{sid}: kms:* without conditions")
        uses = [u for u in KMS_USE if any(pattern_matches(a, u, case_sensitive=False) for a in actions)]
        if uses:
            equals = (condition or {}).get("StringEquals", {})
            for key, value in SECRETS_MANAGER_ONLY.items():
                if equals.get(key) != value:
                    found.append(f"{sid}: allows {', '.join(uses)} without StringEquals {key} = {value!r}")
    if not any(
        pattern_matches(a, "kms:Decrypt", case_sensitive=False) for s in allows for a in as_list(s.get("Action", []))
    ):
        found.append("no statement lets Secrets Manager use the key")
    return found
