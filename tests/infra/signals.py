"""Reads what the functions emit (shared/src/adapters/emf.rs: the namespace, the metric names and
their second dimension; shared/src/model/signal.rs: the values of Result) and what infra/template.yaml watches (its alarms and its dashboard), and
lists every way the two differ; also what must be watched (every function's errors, every
dead-letter queue) and the figures tied to the sweep's schedule."""

import json
import re

from least_privilege import ROOT

EMF = ROOT / "shared" / "src" / "adapters" / "emf.rs"
SIGNAL = ROOT / "shared" / "src" / "model" / "signal.rs"
# The metrics counted per Result, and the enum whose `as_str` gives the values.
RESULTS = {"Onboardings": "OnboardingOutcome", "WebhookChanges": "ChangeOutcome"}
DASHBOARD = "Dashboard"
# Every alarm notifies the topic, when there is one, of ALARM and of OK.
ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def emf_namespace(text=None):
    text = text if text is not None else EMF.read_text()
    return re.search(r'pub const NAMESPACE: &str = "([^"]+)";', text).group(1)


def emf_metrics(text=None):
    """{metric name: its second dimension or None} from emf.rs's `measures`: each `one("Name")`,
    with the `Some(("Dimension", ...))` after it, and each `("Name", "Unit", value)`."""
    text = text if text is not None else EMF.read_text()
    body = text.split("fn measures(", 1)[1].split("\n}\n", 1)[0]
    metrics = {}
    for name, dimension in re.findall(r'one\("(\w+)"\)(?:,\s*Some\(\("(\w+)")?', body):
        metrics[name] = dimension or None
    for name in re.findall(r'\("(\w+)",\s*"\w+",', body):
        metrics[name] = None
    return metrics


def outcome_values(enum, text=None):
    """The strings the `as_str` of one of signal.rs's outcome enums returns."""
    text = text if text is not None else SIGNAL.read_text()
    body = text.split(f"impl {enum} {{", 1)[1].split("\n}\n", 1)[0]
    return set(re.findall(r'=> "(\w+)"', body))


def deployment(template):
    """The Deployment dimension's value: the functions' SECRET_PREFIX, as the template spells it."""
    return template["Globals"]["Function"]["Environment"]["Variables"]["SECRET_PREFIX"]


def alarms(template):
    return {name: res["Properties"] for name, res in template["Resources"].items() if res["Type"] == "AWS::CloudWatch::Alarm"}


def alarm_metrics(props):
    """[(namespace, metric name, {dimension: value})] an alarm reads, alone or in metric math."""
    if "MetricName" in props:
        stats = [props]
    else:
        stats = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
    return [(m.get("Namespace"), m["MetricName"], {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}) for m in stats]


def dashboard(template):
    """The dashboard's body as JSON; a Number parameter (outside any string) becomes its default."""
    body = template["Resources"][DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
    for name, parameter in template["Parameters"].items():
        if parameter["Type"] == "Number":
            body = body.replace("${%s}" % name, str(parameter["Default"]))
    return json.loads(body)


def widgets(template, kind):
    return [w["properties"] for w in dashboard(template)["widgets"] if w["type"] == kind]


def dashboard_metrics(template):
    """[(namespace, metric name, {dimension: value})] of the dashboard's graphs (expressions left out)."""
    found = []
    for graph in widgets(template, "metric"):
        for row in graph["metrics"]:
            strings = [x for x in row if isinstance(x, str)]
            if strings:
                namespace, name, *dims = strings
                found.append((namespace, name, dict(zip(dims[::2], dims[1::2]))))
    return found


def custom_metric_problems(template, emf_text=None):
    """Every way an alarm or the dashboard reads a metric of ours that the functions do not emit."""
    namespace, emitted = emf_namespace(emf_text), emf_metrics(emf_text)
    prefix = deployment(template)
    uses = [(f"alarm {name}", m, prefix) for name, props in alarms(template).items() for m in alarm_metrics(props)]
    # In the dashboard's !Sub string the prefix is the text of its own !Sub.
    uses += [("dashboard", m, prefix["Fn::Sub"]) for m in dashboard_metrics(template)]
    found = []
    for where, (ns, name, dims), expected in uses:
        if ns is not None and ns.startswith("AWS/"):
            continue
        if ns != namespace:
            found.append(f"{where}: {name} in namespace {ns!r}, not emf.rs's {namespace!r}")
        if name not in emitted:
            found.append(f"{where}: emf.rs emits no metric {name}")
            continue
        if dims.get("Deployment") != expected:
            found.append(f"{where}: {name} with Deployment {dims.get('Deployment')!r}, not the functions' SECRET_PREFIX")
        allowed = [{"Deployment"}, {"Deployment", emitted[name]}]
        if set(dims) not in allowed:
            found.append(f"{where}: {name} by {sorted(dims)}, which emf.rs does not emit")
    return found


def result_problems(template, signal_text=None):
    """The dashboard draws one line per Result value signal.rs has, and no other."""
    found = []
    for metric, enum in RESULTS.items():
        drawn = {dims.get("Result") for _, name, dims in dashboard_metrics(template) if name == metric}
        values = outcome_values(enum, signal_text)
        if drawn != values:
            found.append(f"dashboard: {metric} by Result {sorted(drawn, key=str)}, signal.rs has {sorted(values)}")
    return found


def alarm_problems(template, expected):
    """{alarm: {property: value}} checked against the template, one line per difference."""
    found = []
    present = alarms(template)
    for name, properties in expected.items():
        if name not in present:
            found.append(f"no alarm {name}")
            continue
        for key, value in properties.items():
            if present[name].get(key) != value:
                found.append(f"{name}: {key} is {present[name].get(key)!r}, not {value!r}")
    return found


def alarms_without_actions(template):
    return sorted(name for name, props in alarms(template).items() if props.get("AlarmActions") != ACTIONS or props.get("OKActions") != ACTIONS)


def functions_without_errors_alarm(template):
    functions = {name for name, res in template["Resources"].items() if res["Type"] == "AWS::Serverless::Function"}
    watched = {
        dims.get("FunctionName", {}).get("Ref")
        for props in alarms(template).values()
        for ns, name, dims in alarm_metrics(props)
        if (ns, name) == ("AWS/Lambda", "Errors")
    }
    return sorted(functions - watched)


def dead_letter_queues(template):
    """The SQS queues anything in the template sends its dead letters to."""
    queues = {name for name, res in template["Resources"].items() if res["Type"] == "AWS::SQS::Queue"}
    found = set()

    def walk(node):
        if isinstance(node, dict):
            targets = [node.get("deadLetterTargetArn")]
            for key in ("DeadLetterConfig", "DeadLetterQueue"):
                if isinstance(node.get(key), dict):
                    targets += [node[key].get("Arn"), node[key].get("TargetArn")]
            for target in targets:
                if isinstance(target, dict) and target.get("Fn::GetAtt", [None])[0] in queues:
                    found.add(target["Fn::GetAtt"][0])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(template["Resources"])
    return found


def dead_letter_queues_without_alarm(template):
    watched = {
        dims.get("QueueName", {}).get("Fn::GetAtt", [None])[0]
        for props in alarms(template).values()
        for ns, name, dims in alarm_metrics(props)
        if (ns, name) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible") and props.get("Threshold") == 1
    }
    return sorted(dead_letter_queues(template) - watched)


def alarms_missing_from_dashboard(template):
    listed = {arn for widget in widgets(template, "alarm") for arn in widget["alarms"]}
    return sorted(name for name in alarms(template) if "${%s.Arn}" % name not in listed)


def sweep_schedule_seconds(template):
    """Seconds between sweeps, from token-fetch's schedule expression `rate(N minutes|hours)`."""
    events = template["Resources"]["TokenFetchFunction"]["Properties"]["Events"].values()
    (expression,) = [e["Properties"]["ScheduleExpression"] for e in events if e["Type"] in ("Schedule", "ScheduleV2")]
    count, unit = re.fullmatch(r"rate\((\d+) (minutes?|hours?)\)", expression).groups()
    return int(count) * (60 if unit.startswith("minute") else 3600)


def schedule_problems(template):
    """The sweep's alarms and the dashboard's backlog line follow the schedule."""
    every = sweep_schedule_seconds(template)
    present = alarms(template)
    heartbeat, backlog = present["SweepHeartbeatAlarm"], present["SweepBacklogAlarm"]
    found = []
    if heartbeat["Period"] != every:
        found.append(f"SweepHeartbeatAlarm: period {heartbeat['Period']} s, the schedule {every} s")
    if backlog["Threshold"] != 2 * every:
        found.append(f"SweepBacklogAlarm: threshold {backlog['Threshold']} s, not twice the schedule's {every} s")
    lines = [
        line["value"]
        for graph in widgets(template, "metric")
        if any("OldestDueAgeSeconds" in row for row in graph["metrics"])
        for line in graph.get("annotations", {}).get("horizontal", [])
    ]
    if lines != [backlog["Threshold"]]:
        found.append(f"dashboard: oldest due age lines {lines}, not the alarm's {backlog['Threshold']}")
    return found
