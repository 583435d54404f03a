"""The events Pipe of infra/template.yaml as code: its filter and its detail-type, applied to
DynamoDB stream records the way EventBridge Pipes applies them. tests/infra checks the
template with it, and the e2e suite runs it on the stream records moto_server recorded:

    python tests/infra/pipe_filter.py < records.json

reads a JSON list of stream records and prints a JSON list with, for each, whether it passes
the filter and the detail-type it would carry on the bus (null when it does not pass).
"""

import json
import sys

from least_privilege import load_template


def pipe(template=None):
    """The Pipe's filter pattern and detail-type path."""
    properties = (template or load_template())["Resources"]["EventsPipe"]["Properties"]
    pattern = json.loads(properties["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"])
    detail_type = properties["TargetParameters"]["EventBridgeEventBusParameters"]["DetailType"]
    return pattern, detail_type


def matches(pattern, event):
    """EventBridge's matching for the parts a filter here uses: nested objects, lists of exact
    values, and {"prefix": ...}."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
            continue
        ok = False
        for option in wanted:
            if isinstance(option, dict) and "prefix" in option:
                ok = ok or (isinstance(value, str) and value.startswith(option["prefix"]))
            else:
                ok = ok or value == option
        if not ok:
            return False
    return True


def json_path(document, path):
    """The value at a Pipes dynamic path such as `$.dynamodb.NewImage.type.S`."""
    value = document
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value



def main():
    pattern, detail_type = pipe()
    records = json.load(sys.stdin)
    verdicts = []
    for record in records:
        passes = matches(pattern, record)
        verdicts.append({"passes": passes, "detail_type": json_path(record, detail_type) if passes else None})
    json.dump(verdicts, sys.stdout)


if __name__ == "__main__":
    main()
