"""Offline checks of infra/template.yaml: least privilege per function, the partner secret, the KMS
key policy, the table and its `due` index, the sweep schedule, route authorization, events, and the
operator's signals (alarms and dashboard against what shared/src/adapters/emf.rs emits).

Each check is paired with tests that widen a copy of the template and show the check catches it."""

import copy
import json
import unittest

from pipe_filter import json_path, matches, pipe
import signals
from least_privilege import (
    CLIENT_SECRET_ARN,
    FUNCTIONS,
    PARTNER_SECRET_ARN,
    SUB_VALUES,
    functions_that_can,
    key_policy_problems,
    load_template,
    readme_table,
    unknown_actions,
    violations,
)

INTERNAL_ROUTES = {"POST /onboarding/sessions", "GET /clients/{id}/datasets", "GET /clients/{id}"}
# DESIGN's HTTP routes: the internal ones and the public ones the browser and Meta call.
ALL_ROUTES = INTERNAL_ROUTES | {
    "GET /onboarding",
    "GET /onboarding/start",
    "GET /oauth/callback",
    "POST /oauth/code",
    "GET /webhooks/meta",
    "POST /webhooks/meta",
    "POST /meta/deauthorize",
    "POST /meta/data-deletion",
    "GET /meta/data-deletion/{code}",
}
CLIENT_SECRETS = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:meta-login/${Stage}/clients/*"}
PARTNER_SECRET_READERS = {"oauth-callback", "token-fetch", "offboarding"}
TABLE_ARN = SUB_VALUES["Table.Arn"]
DUE_INDEX_ARN = TABLE_ARN + "/index/due"


def first_statement(template, role):
    return template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def key_statement(template, sid):
    statements = template["Resources"]["SecretsKey"]["Properties"]["KeyPolicy"]["Statement"]
    return next(s for s in statements if s.get("Sid") == sid)


def key_use_statement(template):
    statements = template["Resources"]["SecretsKey"]["Properties"]["KeyPolicy"]["Statement"]
    return next(s for s in statements if "kms:Decrypt" in s["Action"])


def table(template):
    return template["Resources"]["Table"]["Properties"]


class LeastPrivilege(unittest.TestCase):
    def setUp(self):
        self.template = load_template()
        self.table = readme_table()

    def test_every_function_has_a_row_in_the_readme_table(self):
        self.assertEqual(set(self.table), set(FUNCTIONS))

    def test_roles_hold_exactly_the_readme_table(self):
        self.assertEqual(violations(self.template, self.table), [])

    def test_every_granted_action_exists_in_iam(self):
        self.assertEqual(unknown_actions(self.template), [])

    def test_no_role_can_scan(self):
        for arn in (TABLE_ARN, DUE_INDEX_ARN):
            self.assertEqual(functions_that_can(self.template, "dynamodb:Scan", arn), set(), arn)

    def test_only_token_fetch_queries_the_due_index(self):
        self.assertEqual(functions_that_can(self.template, "dynamodb:Query", DUE_INDEX_ARN), {"token-fetch"})

    def test_writers_of_transactions_can_condition_check(self):
        writers = functions_that_can(self.template, "dynamodb:PutItem", TABLE_ARN)
        self.assertEqual(writers, set(FUNCTIONS))
        self.assertEqual(functions_that_can(self.template, "dynamodb:ConditionCheckItem", TABLE_ARN), writers)

    def test_a_wildcard_action_is_caught(self):
        widened = copy.deepcopy(self.template)
        first_statement(widened, "OAuthCallbackRole")[-1]["Action"].append("dynamodb:*")
        found = violations(widened, self.table)
        self.assertTrue(any("dynamodb:* on table" in v for v in found), found)
        self.assertEqual(functions_that_can(widened, "dynamodb:Scan", TABLE_ARN), {"oauth-callback"})

    def test_a_granted_scan_is_caught(self):
        widened = copy.deepcopy(self.template)
        first_statement(widened, "TokenFetchRole").append(
            {"Effect": "Allow", "Action": "dynamodb:Sc*", "Resource": {"Fn::Sub": "${Table.Arn}/index/*"}}
        )
        self.assertEqual(functions_that_can(widened, "dynamodb:Scan", DUE_INDEX_ARN), {"token-fetch"})

    def test_a_made_up_action_is_caught(self):
        widened = copy.deepcopy(self.template)
        first_statement(widened, "OffboardingRole")[-1]["Action"].append("dynamodb:TransactWriteItems")
        found = unknown_actions(widened)
        self.assertEqual(found, ["offboarding: dynamodb:TransactWriteItems is not an IAM action"])

    def test_a_widened_resource_is_caught(self):
        widened = copy.deepcopy(self.template)
        statements = first_statement(widened, "TokenFetchRole")
        secrets = next(s for s in statements if s["Resource"] != "*" and "secretsmanager:CreateSecret" in s["Action"])
        secrets["Resource"] = "*"
        found = violations(widened, self.table)
        self.assertTrue(any("secretsmanager:CreateSecret on *" in v for v in found), found)

    def test_a_new_action_is_caught(self):
        widened = copy.deepcopy(self.template)
        first_statement(widened, "DatasetLookupRole").append(
            {"Effect": "Allow", "Action": "secretsmanager:DeleteSecret", "Resource": CLIENT_SECRETS}
        )
        found = violations(widened, self.table)
        self.assertTrue(any("dataset-lookup: secretsmanager:DeleteSecret on client secrets" in v for v in found), found)

    def test_managed_policies_and_extra_policy_resources_are_caught(self):
        widened = copy.deepcopy(self.template)
        widened["Resources"]["OffboardingRole"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]
        widened["Resources"]["Sneaky"] = {"Type": "AWS::IAM::Policy", "Properties": {}}
        found = violations(widened, self.table)
        self.assertTrue(any("managed policy" in v for v in found), found)
        self.assertTrue(any("Sneaky" in v for v in found), found)

    def test_a_removed_grant_shows_the_table_is_stale(self):
        narrowed = copy.deepcopy(self.template)
        first_statement(narrowed, "OffboardingRole")[-1]["Action"].remove("dynamodb:BatchWriteItem")
        found = violations(narrowed, self.table)
        self.assertTrue(any("lists dynamodb:BatchWriteItem" in v for v in found), found)


class PartnerSecret(unittest.TestCase):
    def setUp(self):
        self.template = load_template()

    def test_the_stack_creates_it_under_the_prefix_encrypted_with_the_key(self):
        secret = self.template["Resources"]["PartnerSecret"]
        self.assertEqual(secret["Type"], "AWS::SecretsManager::Secret")
        self.assertEqual(secret["Properties"]["Name"], {"Fn::Sub": "meta-login/${Stage}/partner/system-user"})
        self.assertEqual(secret["Properties"]["KmsKeyId"], {"Ref": "SecretsKey"})
        self.assertNotIn("SecretString", secret["Properties"])
        self.assertNotIn("GenerateSecretString", secret["Properties"])

    def test_only_token_fetch_and_offboarding_can_read_it(self):
        readers = functions_that_can(self.template, "secretsmanager:GetSecretValue", PARTNER_SECRET_ARN)
        self.assertEqual(readers, PARTNER_SECRET_READERS)

    def test_only_token_fetch_puts_new_versions_and_nobody_deletes_it(self):
        self.assertEqual(
            functions_that_can(self.template, "secretsmanager:PutSecretValue", PARTNER_SECRET_ARN),
            {"token-fetch"},
        )
        for action in ("CreateSecret", "UpdateSecret", "DeleteSecret", "TagResource", "PutResourcePolicy"):
            self.assertEqual(functions_that_can(self.template, f"secretsmanager:{action}", PARTNER_SECRET_ARN), set(), action)

    def test_client_secret_wildcards_reach_client_secrets_only(self):
        # The readers of client secrets are who they should be (so the matching works; oauth-callback
        # lists a new client's datasets with its token) ...
        self.assertEqual(
            functions_that_can(self.template, "secretsmanager:GetSecretValue", CLIENT_SECRET_ARN),
            {"oauth-callback", "dataset-lookup", "token-fetch", "offboarding"},
        )
        # ... and no wildcard of theirs reaches the partner's secrets, nor the app secret.
        for name in ("partner/system-user-AbCdEf", "partner/pages/42-AbCdEf", "app-AbCdEf", "clients-AbCdEf"):
            arn = CLIENT_SECRET_ARN.replace("clients/123/bisu-AbCdEf", name)
            writers = functions_that_can(self.template, "secretsmanager:PutSecretValue", arn)
            # Only token-fetch's own grants on the partner's secrets, never a client wildcard.
            self.assertEqual(writers, {"token-fetch"} if name.startswith("partner/") else set(), arn)
            if name.startswith("partner/"):
                readers = functions_that_can(self.template, "secretsmanager:GetSecretValue", arn)
                self.assertLessEqual(readers, PARTNER_SECRET_READERS, arn)

    def test_granting_it_to_dataset_lookup_is_caught(self):
        widened = copy.deepcopy(self.template)
        first_statement(widened, "DatasetLookupRole").append(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "PartnerSecret"}}
        )
        self.assertEqual(
            functions_that_can(widened, "secretsmanager:GetSecretValue", PARTNER_SECRET_ARN),
            PARTNER_SECRET_READERS | {"dataset-lookup"},
        )
        found = violations(widened, readme_table())
        self.assertIn("dataset-lookup: secretsmanager:GetSecretValue on partner secret is not in the README table", found)

    def test_a_wildcard_that_reaches_it_is_caught(self):
        widened = copy.deepcopy(self.template)
        statements = first_statement(widened, "DatasetLookupRole")
        clients = next(s for s in statements if s["Resource"] == CLIENT_SECRETS)
        clients["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:meta-login/${Stage}/*"}
        readers = functions_that_can(widened, "secretsmanager:GetSecretValue", PARTNER_SECRET_ARN)
        self.assertIn("dataset-lookup", readers)

    def test_an_action_wildcard_that_reaches_it_is_caught(self):
        widened = copy.deepcopy(self.template)
        first_statement(widened, "DatasetLookupRole").append(
            {"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "arn:aws:secretsmanager:*:*:secret:meta-login/*"}
        )
        readers = functions_that_can(widened, "secretsmanager:GetSecretValue", PARTNER_SECRET_ARN)
        self.assertIn("dataset-lookup", readers)


class KeyPolicy(unittest.TestCase):
    def setUp(self):
        self.template = load_template()

    def test_the_key_policy_has_no_problem(self):
        self.assertEqual(key_policy_problems(self.template), [])

    def test_the_account_administers_the_key_without_using_it(self):
        admin = key_statement(self.template, "AccountAdministers")
        self.assertNotIn("Condition", admin)
        for action in ("kms:Put*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:Enable*", "kms:Disable*"):
            self.assertIn(action, admin["Action"])
        for action in admin["Action"]:
            self.assertFalse(action.startswith(("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt")), action)
            self.assertNotEqual(action, "kms:*")

    def test_the_use_statement_is_through_secrets_manager_for_this_account(self):
        use = key_use_statement(self.template)
        self.assertEqual(
            use["Condition"],
            {"StringEquals": {
                "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
                "kms:CallerAccount": {"Ref": "AWS::AccountId"},
            }},
        )
        self.assertLessEqual({"kms:Decrypt", "kms:GenerateDataKey*"}, set(use["Action"]))

    def test_a_removed_condition_is_caught(self):
        for key in ("kms:CallerAccount", "kms:ViaService"):
            widened = copy.deepcopy(self.template)
            del key_use_statement(widened)["Condition"]["StringEquals"][key]
            found = key_policy_problems(widened)
            self.assertTrue(any(f"without StringEquals {key}" in v for v in found), found)

    def test_a_weakened_condition_is_caught(self):
        widened = copy.deepcopy(self.template)
        condition = key_use_statement(widened)["Condition"]
        condition["StringLike"] = condition.pop("StringEquals")
        condition["StringLike"]["kms:ViaService"] = "*"
        found = key_policy_problems(widened)
        self.assertTrue(any("without StringEquals kms:ViaService" in v for v in found), found)

    def test_an_unconditioned_kms_star_is_caught(self):
        widened = copy.deepcopy(self.template)
        key_statement(widened, "AccountAdministers")["Action"] = "kms:*"
        found = key_policy_problems(widened)
        self.assertTrue(any("kms:* without conditions" in v for v in found), found)

    def test_use_slipped_into_administration_is_caught(self):
        widened = copy.deepcopy(self.template)
        key_statement(widened, "AccountAdministers")["Action"].append("kms:Decrypt")
        found = key_policy_problems(widened)
        self.assertTrue(any(v.startswith("AccountAdministers: allows kms:Decrypt") for v in found), found)

    def test_another_principal_is_caught(self):
        widened = copy.deepcopy(self.template)
        key_use_statement(widened)["Principal"] = {"AWS": "*"}
        found = key_policy_problems(widened)
        self.assertTrue(any("is not this account's root" in v for v in found), found)

    def test_the_secrets_use_the_key(self):
        for secret in ("AppSecret", "PartnerSecret"):
            self.assertEqual(self.template["Resources"][secret]["Properties"]["KmsKeyId"], {"Ref": "SecretsKey"}, secret)


class Storage(unittest.TestCase):
    def setUp(self):
        self.template = load_template()

    def test_keys_ttl_and_stream(self):
        props = table(self.template)
        self.assertEqual(props["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertEqual(props["TimeToLiveSpecification"], {"AttributeName": "expires_at_epoch", "Enabled": True})
        self.assertEqual(props["StreamSpecification"], {"StreamViewType": "NEW_IMAGE"})

    def test_the_due_index(self):
        self.assertEqual(due_index_problems(self.template), [])

    def test_a_wrong_due_index_is_caught(self):
        widened = copy.deepcopy(self.template)
        next(a for a in table(widened)["AttributeDefinitions"] if a["AttributeName"] == "due_at")["AttributeType"] = "S"
        self.assertIn("due_at is S, not N", due_index_problems(widened))
        widened = copy.deepcopy(self.template)
        table(widened)["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "ALL"}
        self.assertIn("projection {'ProjectionType': 'ALL'}", due_index_problems(widened))
        widened = copy.deepcopy(self.template)
        del table(widened)["GlobalSecondaryIndexes"]
        self.assertEqual(due_index_problems(widened), ["no index due"])


def due_index_problems(template):
    props = table(template)
    found = []
    index = next((i for i in props.get("GlobalSecondaryIndexes", []) if i["IndexName"] == "due"), None)
    if index is None:
        return ["no index due"]
    if index["KeySchema"] != [{"AttributeName": "due_pk", "KeyType": "HASH"}, {"AttributeName": "due_at", "KeyType": "RANGE"}]:
        found.append(f"keys {index['KeySchema']}")
    if index["Projection"] != {"ProjectionType": "KEYS_ONLY"}:
        found.append(f"projection {index['Projection']}")
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    for name, expected in (("due_pk", "S"), ("due_at", "N")):
        if types.get(name) != expected:
            found.append(f"{name} is {types.get(name)}, not {expected}")
    return found


class Schedule(unittest.TestCase):
    def test_the_sweep_schedule_invokes_token_fetch_with_the_sweep_action(self):
        template = load_template()
        events = template["Resources"]["TokenFetchFunction"]["Properties"]["Events"]
        schedules = [e["Properties"] for e in events.values() if e["Type"] in ("Schedule", "ScheduleV2")]
        self.assertEqual(len(schedules), 1)
        self.assertEqual(json.loads(schedules[0]["Input"]), {"action": "sweep"})


class Routes(unittest.TestCase):
    def test_internal_routes_need_iam_and_public_ones_do_not(self):
        template = load_template()
        routes = {
            res["Properties"]["RouteKey"]: res["Properties"]["AuthorizationType"]
            for res in template["Resources"].values()
            if res["Type"] == "AWS::ApiGatewayV2::Route"
        }
        self.assertEqual(set(routes), ALL_ROUTES)
        for key, auth in routes.items():
            self.assertEqual(auth, "AWS_IAM" if key in INTERNAL_ROUTES else "NONE", key)



def stream_record(event_name, pk, sk, extra=None):
    """A DynamoDB stream record as the table (NEW_IMAGE) sends it for an item of ours."""
    image = {"pk": {"S": pk}, "sk": {"S": sk}}
    image.update(extra or {})
    dynamodb = {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}, "StreamViewType": "NEW_IMAGE"}
    if event_name != "REMOVE":
        dynamodb["NewImage"] = image
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}


# DESIGN's event types: each must reach the bus under its own detail-type.
EVENT_TYPES = [
    "client.onboarded",
    "client.assets_changed",
    "client.needs_reconnect",
    "client.reconnected",
    "client.offboarded",
    "token.minted",
    "partner.token_rotated",
    "partner.token_invalid",
]


class Events(unittest.TestCase):
    def setUp(self):
        self.template = load_template()
        self.pipe = self.template["Resources"]["EventsPipe"]["Properties"]
        self.pattern, self.detail_type = pipe(self.template)

    def test_the_pipe_reads_the_tables_stream_into_the_bus(self):
        self.assertEqual(self.pipe["Source"], {"Fn::GetAtt": ["Table", "StreamArn"]})
        target = self.pipe["Target"]["Fn::If"]
        self.assertEqual(target[0], "CreateEventBus")
        self.assertEqual(target[1], {"Fn::GetAtt": ["EventBus", "Arn"]})
        self.assertIn("event-bus/default", target[2]["Fn::Sub"])
        table = self.template["Resources"]["Table"]["Properties"]
        self.assertEqual(table["StreamSpecification"]["StreamViewType"], "NEW_IMAGE")
        self.assertEqual(table["TimeToLiveSpecification"], {"AttributeName": "expires_at_epoch", "Enabled": True})

    def test_every_event_type_passes_under_its_own_detail_type_and_nothing_else_does(self):
        for kind in EVENT_TYPES:
            for pk in ("CLIENT#123", "PARTNER"):
                record = stream_record("INSERT", pk, "EVENT#2026-01-01T00:00:00Z#0000abcd", {"type": {"S": kind}})
                self.assertTrue(matches(self.pattern, record), kind)
                self.assertEqual(json_path(record, self.detail_type), kind)
        others = [
            stream_record("INSERT", "CLIENT#123", "CLIENT", {"status": {"S": "active"}}),
            stream_record("MODIFY", "CLIENT#123", "CLIENT", {"status": {"S": "offboarded"}}),
            stream_record("INSERT", "CLIENT#123", "DATASET#9"),
            stream_record("INSERT", "CLIENT#123", "TOKEN#ab"),
            stream_record("INSERT", "CLIENT#123", "PENDING#meta-login/x/clients/123/bisu"),
            stream_record("INSERT", "WEBHOOK#ab", "WEBHOOK"),
            stream_record("INSERT", "SESSION#x", "SESSION"),
            # Event items expire by TTL: a removal is not an event.
            stream_record("REMOVE", "CLIENT#123", "EVENT#2026-01-01T00:00:00Z#0000abcd"),
        ]
        for record in others:
            self.assertFalse(matches(self.pattern, record), record)

    def test_a_filter_that_lets_other_items_through_is_caught(self):
        loose = {"eventName": ["INSERT"]}
        record = stream_record("INSERT", "CLIENT#123", "TOKEN#ab")
        self.assertTrue(matches(loose, record), "the checker itself sees a loose filter pass it")
        self.assertFalse(matches(self.pattern, record))

    def test_an_example_rule_feeds_a_queue_with_a_dead_letter_queue_and_an_alarm(self):
        resources = self.template["Resources"]
        rule = resources["EventsExampleRule"]["Properties"]
        self.assertEqual(rule["EventPattern"]["source"], ["meta-login.token-service"])
        self.assertTrue(set(rule["EventPattern"]["detail-type"]) <= set(EVENT_TYPES))
        target = rule["Targets"][0]
        self.assertEqual(target["Arn"], {"Fn::GetAtt": ["EventsExampleQueue", "Arn"]})
        self.assertEqual(target["DeadLetterConfig"]["Arn"], {"Fn::GetAtt": ["EventsExampleDeadLetterQueue", "Arn"]})
        redrive = resources["EventsExampleQueue"]["Properties"]["RedrivePolicy"]
        self.assertEqual(redrive["deadLetterTargetArn"], {"Fn::GetAtt": ["EventsExampleDeadLetterQueue", "Arn"]})
        alarm = resources["EventsDeadLetterAlarm"]["Properties"]
        self.assertEqual(alarm["Dimensions"][0]["Value"], {"Fn::GetAtt": ["EventsExampleDeadLetterQueue", "QueueName"]})
        self.assertEqual(alarm["Threshold"], 1)

    def test_the_pipe_may_read_only_the_stream_and_put_only_to_the_bus(self):
        statements = self.template["Resources"]["EventsPipeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        resources = [s["Resource"] for s in statements]
        self.assertIn({"Fn::GetAtt": ["Table", "StreamArn"]}, resources)
        actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
        self.assertEqual(
            actions,
            {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "events:PutEvents"},
        )


# The alarms on the service's own metrics, as the README describes them to operators.
SIGNAL_ALARMS = {
    # A sweep that silently stops has no data at all: that must breach.
    "SweepHeartbeatAlarm": dict(MetricName="SweepRuns", Statistic="Sum", Period=900, EvaluationPeriods=2,
                                ComparisonOperator="LessThanThreshold", Threshold=1, TreatMissingData="breaching"),
    "SweepBacklogAlarm": dict(MetricName="OldestDueAgeSeconds", Statistic="Maximum", Period=900, EvaluationPeriods=1,
                              ComparisonOperator="GreaterThanThreshold", Threshold=1800, TreatMissingData="notBreaching"),
    "PartnerTokenInvalidAlarm": dict(MetricName="PartnerTokenInvalid", Statistic="Sum", Period=300, EvaluationPeriods=1,
                                     ComparisonOperator="GreaterThanOrEqualToThreshold", Threshold=1, TreatMissingData="notBreaching"),
    "ReconnectShareAlarm": dict(EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold",
                                Threshold={"Ref": "ReconnectAlarmPercent"}, TreatMissingData="notBreaching"),
}
EMITTED = {
    "Onboardings", "TokensServed", "ReconnectsNeeded", "Offboardings", "WebhookChanges", "HealthChecks", "GraphThrottled",
    "PartnerTokenInvalid", "SweepRuns", "SweepItemsDone", "SweepItemsFailed", "SweepItemsLeft", "OldestDueAgeSeconds",
}


def alarm(template, name):
    return template["Resources"][name]["Properties"]


def dashboard_body(template):
    return template["Resources"][signals.DASHBOARD]["Properties"]["DashboardBody"]


class Signals(unittest.TestCase):
    def setUp(self):
        self.template = load_template()

    def test_emf_rs_is_read_as_it_is(self):
        self.assertEqual(signals.emf_namespace(), "MetaLoginTokenService")
        metrics = signals.emf_metrics()
        self.assertEqual(set(metrics), EMITTED)
        self.assertEqual(metrics["Onboardings"], "Result")
        self.assertEqual(metrics["TokensServed"], "Kind")
        self.assertIsNone(metrics["SweepRuns"])

    def test_alarms_and_dashboard_read_only_what_the_functions_emit(self):
        self.assertEqual(signals.custom_metric_problems(self.template), [])

    def test_the_deployment_is_the_functions_secret_prefix(self):
        self.assertEqual(signals.deployment(self.template), {"Fn::Sub": "meta-login/${Stage}"})

    def test_every_emitted_metric_is_on_the_dashboard(self):
        shown = {name for _, name, _ in signals.dashboard_metrics(self.template)}
        self.assertEqual(set(signals.emf_metrics()) - shown, set())

    def test_a_wrong_namespace_deployment_or_dimension_is_caught(self):
        widened = copy.deepcopy(self.template)
        alarm(widened, "SweepHeartbeatAlarm")["Namespace"] = "MetaLoginTokenSevice"
        alarm(widened, "PartnerTokenInvalidAlarm")["Dimensions"][0]["Value"] = "meta-login/prod"
        body = dashboard_body(widened)
        body["Fn::Sub"] = body["Fn::Sub"].replace('"Kind", "page"', '"Type", "page"')
        self.assertEqual(signals.custom_metric_problems(widened), [
            "alarm SweepHeartbeatAlarm: SweepRuns in namespace 'MetaLoginTokenSevice', not emf.rs's 'MetaLoginTokenService'",
            "alarm PartnerTokenInvalidAlarm: PartnerTokenInvalid with Deployment 'meta-login/prod', not the functions' SECRET_PREFIX",
            "dashboard: TokensServed by ['Deployment', 'Type'], which emf.rs does not emit",
        ])

    def test_a_metric_emf_rs_does_not_emit_is_caught(self):
        widened = copy.deepcopy(self.template)
        body = dashboard_body(widened)
        body["Fn::Sub"] = body["Fn::Sub"].replace('"GraphThrottled"', '"GraphThrottles"')
        self.assertEqual(signals.custom_metric_problems(widened), ["dashboard: emf.rs emits no metric GraphThrottles"])
        # ... and a metric emf.rs starts to emit is missed by the dashboard.
        emf = signals.EMF.read_text().replace('one("Offboardings")', 'one("Offboardings"), one("Surprises")')
        self.assertIn("Surprises", set(signals.emf_metrics(emf)) - {n for _, n, _ in signals.dashboard_metrics(self.template)})

    def test_the_dashboard_draws_every_result_signal_rs_has(self):
        self.assertEqual(signals.result_problems(self.template), [])

    def test_a_new_result_is_caught(self):
        signal = signals.SIGNAL.read_text().replace('Self::Stale => "stale",', 'Self::Stale => "stale", Self::Lost => "lost",')
        found = signals.result_problems(self.template, signal)
        self.assertEqual(len(found), 1)
        self.assertTrue(found[0].startswith("dashboard: WebhookChanges by Result"), found)
        self.assertIn("'lost'", found[0])

    def test_the_alarms_on_the_services_signals(self):
        self.assertEqual(signals.alarm_problems(self.template, SIGNAL_ALARMS), [])
        for name, expected in SIGNAL_ALARMS.items():
            if "MetricName" in expected:
                self.assertEqual(alarm(self.template, name)["Namespace"], signals.emf_namespace(), name)

    def test_a_heartbeat_that_stays_quiet_on_no_data_is_caught(self):
        widened = copy.deepcopy(self.template)
        alarm(widened, "SweepHeartbeatAlarm")["TreatMissingData"] = "notBreaching"
        del widened["Resources"]["PartnerTokenInvalidAlarm"]
        self.assertEqual(signals.alarm_problems(widened, SIGNAL_ALARMS), [
            "SweepHeartbeatAlarm: TreatMissingData is 'notBreaching', not 'breaching'",
            "no alarm PartnerTokenInvalidAlarm",
        ])

    def test_the_reconnect_share_is_reconnects_over_checks_per_hour_without_dividing_by_zero(self):
        queries = {q["Id"]: q for q in alarm(self.template, "ReconnectShareAlarm")["Metrics"]}
        for query_id, metric in (("reconnects", "ReconnectsNeeded"), ("checks", "HealthChecks")):
            stat = queries[query_id]["MetricStat"]
            self.assertEqual((stat["Metric"]["MetricName"], stat["Stat"], stat["Period"]), (metric, "Sum", 3600))
            self.assertFalse(queries[query_id]["ReturnData"])
        self.assertEqual(queries["share"]["Expression"], "IF(checks > 0, 100 * FILL(reconnects, 0) / checks, 0)")
        self.assertTrue(queries["share"]["ReturnData"])
        percent = self.template["Parameters"]["ReconnectAlarmPercent"]
        self.assertEqual((percent["Type"], percent["Default"], percent["MinValue"], percent["MaxValue"]), ("Number", 5, 0, 100))

    def test_the_sweep_alarms_follow_the_schedule(self):
        self.assertEqual(signals.sweep_schedule_seconds(self.template), 900)
        self.assertEqual(signals.schedule_problems(self.template), [])

    def test_a_changed_schedule_is_caught(self):
        widened = copy.deepcopy(self.template)
        sweep = widened["Resources"]["TokenFetchFunction"]["Properties"]["Events"]["Sweep"]["Properties"]
        sweep["ScheduleExpression"] = "rate(30 minutes)"
        self.assertEqual(signals.schedule_problems(widened), [
            "SweepHeartbeatAlarm: period 900 s, the schedule 1800 s",
            "SweepBacklogAlarm: threshold 1800 s, not twice the schedule's 1800 s",
        ])
        alarm(widened, "SweepBacklogAlarm")["Threshold"] = 3600
        self.assertIn("dashboard: oldest due age lines [1800], not the alarm's 3600", signals.schedule_problems(widened))

    def test_every_function_has_an_errors_alarm(self):
        functions = [n for n, r in self.template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
        self.assertEqual(len(functions), len(FUNCTIONS))
        self.assertEqual(signals.functions_without_errors_alarm(self.template), [])

    def test_a_function_without_an_errors_alarm_is_caught(self):
        widened = copy.deepcopy(self.template)
        del widened["Resources"]["DatasetLookupErrorsAlarm"]
        self.assertEqual(signals.functions_without_errors_alarm(widened), ["DatasetLookupFunction"])

    def test_every_dead_letter_queue_has_an_alarm(self):
        self.assertEqual(signals.dead_letter_queues(self.template), {"EventsExampleDeadLetterQueue"})
        self.assertEqual(signals.dead_letter_queues_without_alarm(self.template), [])

    def test_a_dead_letter_queue_without_an_alarm_is_caught(self):
        widened = copy.deepcopy(self.template)
        resources = widened["Resources"]
        resources["SweepDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
        resources["TokenFetchFunction"]["Properties"]["Events"]["Sweep"]["Properties"]["DeadLetterConfig"] = {
            "Arn": {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}
        }
        alarm(widened, "EventsDeadLetterAlarm")["Threshold"] = 100
        self.assertEqual(
            signals.dead_letter_queues_without_alarm(widened), ["EventsExampleDeadLetterQueue", "SweepDeadLetterQueue"]
        )

    def test_every_alarm_notifies_of_alarm_and_ok_and_is_on_the_dashboard(self):
        self.assertEqual(signals.alarms_without_actions(self.template), [])
        self.assertEqual(signals.alarms_missing_from_dashboard(self.template), [])

    def test_an_alarm_left_off_the_dashboard_or_the_topic_is_caught(self):
        widened = copy.deepcopy(self.template)
        widened["Resources"]["NewAlarm"] = copy.deepcopy(widened["Resources"]["SweepBacklogAlarm"])
        del alarm(widened, "NewAlarm")["OKActions"]
        self.assertEqual(signals.alarms_missing_from_dashboard(widened), ["NewAlarm"])
        self.assertEqual(signals.alarms_without_actions(widened), ["NewAlarm"])

    def test_the_dashboard_is_named_after_the_stack(self):
        name = self.template["Resources"][signals.DASHBOARD]["Properties"]["DashboardName"]
        self.assertEqual(name, {"Fn::Sub": "${AWS::StackName}-${AWS::Region}"})


if __name__ == "__main__":
    unittest.main()
