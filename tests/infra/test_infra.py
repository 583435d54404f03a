"""Offline checks of infra/template.yaml: least privilege per function, and route authorization."""

import copy
import unittest

from least_privilege import FUNCTIONS, load_template, readme_table, violations

INTERNAL_ROUTES = {"POST /onboarding/sessions", "GET /clients/{id}/datasets", "GET /clients/{id}"}


def first_statement(template, role):
    return template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


class LeastPrivilege(unittest.TestCase):
    def setUp(self):
        self.template = load_template()
        self.table = readme_table()

    def test_every_function_has_a_row_in_the_readme_table(self):
        self.assertEqual(set(self.table), set(FUNCTIONS))

    def test_roles_hold_exactly_the_readme_table(self):
        self.assertEqual(violations(self.template, self.table), [])

    def test_a_wildcard_action_is_caught(self):
        widened = copy.deepcopy(self.template)
        first_statement(widened, "OAuthCallbackRole")[-1]["Action"].append("dynamodb:*")
        found = violations(widened, self.table)
        self.assertTrue(any("dynamodb:* on table" in v for v in found), found)

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
            {"Effect": "Allow", "Action": "secretsmanager:DeleteSecret", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:meta-login/${Stage}/clients/*"}}
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
        first_statement(narrowed, "OffboardingRole")[-1]["Action"].remove("dynamodb:Scan")
        found = violations(narrowed, self.table)
        self.assertTrue(any("lists dynamodb:Scan" in v for v in found), found)


class Routes(unittest.TestCase):
    def test_internal_routes_need_iam_and_public_ones_do_not(self):
        template = load_template()
        routes = {
            res["Properties"]["RouteKey"]: res["Properties"]["AuthorizationType"]
            for res in template["Resources"].values()
            if res["Type"] == "AWS::ApiGatewayV2::Route"
        }
        self.assertEqual(len(routes), 11)
        for key, auth in routes.items():
            self.assertEqual(auth, "AWS_IAM" if key in INTERNAL_ROUTES else "NONE", key)


if __name__ == "__main__":
    unittest.main()
