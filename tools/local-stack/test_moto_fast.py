"""moto_fast.py answers as moto does, and never fails a request because another one changed a
table or the secrets at the same time (`make e2e` runs it first)."""

import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import boto3
import botocore.config

MOTO_FAST = Path(__file__).with_name("moto_fast.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def churn(workers, work):
    """Runs `work(worker)` on `workers` threads at once; the errors they raised."""
    errors = []

    def run(worker):
        try:
            work(worker)
        except Exception as error:  # noqa: BLE001 (every failure is the finding)
            errors.append(repr(error)[:200])

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


class MotoFast(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.log = tempfile.TemporaryFile()
        cls.server = subprocess.Popen(
            [sys.executable, str(MOTO_FAST), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=cls.log,
        )
        cls.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or cls.server.poll() is not None:
                    raise RuntimeError("moto_fast.py did not answer")
                time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait()
        cls.log.close()

    def client(self, service):
        # One attempt: a 500 must show as an error, not be retried away.
        config = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def test_a_secret_is_found_by_name_arn_and_partial_arn_and_a_missing_one_is_not(self):
        sm = self.client("secretsmanager")
        arn = sm.create_secret(Name="lookup/one", SecretString="demo-v1")["ARN"]
        partial_arn = arn.rsplit("-", 1)[0]
        for key in ("lookup/one", arn, partial_arn):
            self.assertEqual(sm.get_secret_value(SecretId=key)["SecretString"], "demo-v1", key)
        with self.assertRaises(sm.exceptions.ResourceNotFoundException):
            sm.get_secret_value(SecretId="lookup/none")
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        with self.assertRaises(sm.exceptions.ResourceNotFoundException):
            sm.describe_secret(SecretId="lookup/one")

    def test_secret_requests_that_change_the_store_at_once_all_succeed(self):
        sm = self.client("secretsmanager")
        # A store large enough that a walk over it is still going when another request lands.
        for n in range(3000):
            sm.create_secret(Name=f"bulk/{n}", SecretString="demo")

        def work(worker):
            sm = self.client("secretsmanager")
            for n in range(40):
                arn = sm.create_secret(Name=f"churn/{worker}/{n}", SecretString="demo")["ARN"]
                sm.describe_secret(SecretId=arn)
                sm.list_secrets(MaxResults=100)
                sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)

        errors = churn(8, work)
        self.assertEqual(errors, [])
        left = sm.list_secrets(Filters=[{"Key": "name", "Values": ["churn/"]}])["SecretList"]
        self.assertEqual(left, [])

    def test_writes_queries_and_scans_at_once_all_succeed_and_find_what_they_should(self):
        db = self.client("dynamodb")
        db.create_table(
            TableName="churn",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("pk", "sk", "due_pk", "due_at")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "due",
                    "KeySchema": [
                        {"AttributeName": "due_pk", "KeyType": "HASH"},
                        {"AttributeName": "due_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )

        def item(pk, sk, shard):
            return {"pk": {"S": pk}, "sk": {"S": sk}, "due_pk": {"S": f"DUE#{shard}"},
                    "due_at": {"S": sk}}

        for n in range(3000):
            db.put_item(TableName="churn", Item=item(f"BULK#{n}", "A", n % 4))

        def work(worker):
            db = self.client("dynamodb")
            for n in range(40):
                db.put_item(TableName="churn", Item=item(f"NEW#{worker}#{n}", "A", 9))
                db.query(
                    TableName="churn",
                    IndexName="due",
                    KeyConditionExpression="due_pk = :p",
                    ExpressionAttributeValues={":p": {"S": f"DUE#{n % 4}"}},
                    Limit=10,
                )
                if n % 10 == 0:
                    db.scan(TableName="churn", Limit=10)

        errors = churn(8, work)
        self.assertEqual(errors, [])
        due = db.query(
            TableName="churn",
            IndexName="due",
            KeyConditionExpression="due_pk = :p",
            ExpressionAttributeValues={":p": {"S": "DUE#9"}},
            Select="COUNT",
        )
        self.assertEqual(due["Count"], 8 * 40)
        one = db.query(
            TableName="churn",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "BULK#7"}},
        )
        self.assertEqual([i["due_pk"]["S"] for i in one["Items"]], ["DUE#3"])


if __name__ == "__main__":
    unittest.main()
