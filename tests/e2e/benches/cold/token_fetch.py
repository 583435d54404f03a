"""token-fetch as a Python 3 team would write it: boto3 clients at module scope, the client
item from DynamoDB, its token secret from Secrets Manager. The reference of `make bench`,
run under the same Runtime API as the Rust functions. Standard library loop, no framework."""

import json
import os
import urllib.request

import boto3

TABLE = os.environ["TABLE_NAME"]
dynamodb = boto3.client("dynamodb")
secrets = boto3.client("secretsmanager")


def handler(event):
    client_id = event["client_business_id"]
    item = dynamodb.get_item(
        TableName=TABLE,
        Key={"pk": {"S": f"CLIENT#{client_id}"}, "sk": {"S": "CLIENT"}},
    ).get("Item")
    if item is None or item["status"]["S"] not in ("active", "needs_reconnect"):
        raise LookupError("no active client")
    pointer = item["secret"]["M"]
    secret = secrets.get_secret_value(
        SecretId=pointer["name"]["S"], VersionId=pointer["version"]["S"]
    )
    token = json.loads(secret["SecretString"])
    return {
        "access_token": token["access_token"],
        "kind": item["mode"]["S"],
        "client_business_id": client_id,
        "system_user_id": item["system_user_id"]["S"],
        "scopes": token.get("scopes", []),
        "expires_at": token.get("expires_at"),
    }


def main():
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
    while True:
        with urllib.request.urlopen(api + "next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read())
        try:
            body, path = json.dumps(handler(event)).encode(), "/response"
        except Exception as err:  # the Runtime API's error shape
            body = json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)}).encode()
            path = "/error"
        urllib.request.urlopen(urllib.request.Request(api + request_id + path, data=body)).close()


if __name__ == "__main__":
    main()
