"""moto_fast.py answers Secrets Manager as moto does, and never fails a request because another
one changed the store at the same time (`make e2e` runs it first)."""

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


class MotoFastSecrets(unittest.TestCase):
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

    def client(self):
        # One attempt: a 500 must show as an error, not be retried away.
        config = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client(
            "secretsmanager",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def test_a_secret_is_found_by_name_arn_and_partial_arn_and_a_missing_one_is_not(self):
        sm = self.client()
        arn = sm.create_secret(Name="lookup/one", SecretString="demo-v1")["ARN"]
        partial_arn = arn.rsplit("-", 1)[0]
        for key in ("lookup/one", arn, partial_arn):
            self.assertEqual(sm.get_secret_value(SecretId=key)["SecretString"], "demo-v1", key)
        with self.assertRaises(sm.exceptions.ResourceNotFoundException):
            sm.get_secret_value(SecretId="lookup/none")
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        with self.assertRaises(sm.exceptions.ResourceNotFoundException):
            sm.describe_secret(SecretId="lookup/one")

    def test_requests_that_change_the_store_at_once_all_succeed(self):
        sm = self.client()
        # A store large enough that a walk over it is still going when another request lands.
        for n in range(3000):
            sm.create_secret(Name=f"bulk/{n}", SecretString="demo")
        errors = []

        def churn(worker):
            sm = self.client()
            try:
                for n in range(40):
                    arn = sm.create_secret(Name=f"churn/{worker}/{n}", SecretString="demo")["ARN"]
                    sm.describe_secret(SecretId=arn)
                    sm.list_secrets(MaxResults=100)
                    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
            except Exception as error:  # noqa: BLE001 (every failure is the finding)
                errors.append(repr(error)[:200])

        workers = [threading.Thread(target=churn, args=(w,)) for w in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.assertEqual(errors, [])
        left = sm.list_secrets(Filters=[{"Key": "name", "Values": ["churn/"]}])["SecretList"]
        self.assertEqual(left, [])


if __name__ == "__main__":
    unittest.main()
