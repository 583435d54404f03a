//! Events end to end: every event type of DESIGN comes from the real functions as an item
//! written with the change it describes, and the stream records moto_server kept for the table
//! pass the Pipe's filter (infra/template.yaml's own, applied by tests/infra/pipe_filter.py)
//! exactly when they are inserts of event items, carrying the event's type as detail-type. A
//! change that fails leaves no event. moto's EventBridge TestEventPattern matches anything, so
//! the filter is applied by that script instead.

use e2e::Stack;
use e2e::client::Business;
use e2e::stack::{TABLE, workspace_root};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What DESIGN names, and what the Pipe must carry as detail-type.
const EVENT_TYPES: [&str; 8] = [
    "client.onboarded",
    "client.assets_changed",
    "client.needs_reconnect",
    "client.reconnected",
    "client.offboarded",
    "token.minted",
    "partner.token_rotated",
    "partner.token_invalid",
];
/// DESIGN: an event item's TTL is 400 days.
const EVENT_TTL_SECS: i64 = 400 * 24 * 3600;
/// The partner business's admin system user in the emulator's seed.
const PARTNER_SYSTEM_USER: &str = "7100000000000001";
const PARTNER_SCOPES: [&str; 5] = [
    "business_management",
    "ads_management",
    "catalog_management",
    "pages_show_list",
    "pages_read_engagement",
];

fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// One DynamoDB Streams call to moto_server, shaped as the SDK sends it: moto picks the service
/// from the signature's scope and the target (it checks no signature).
async fn streams_call(stack: &Stack, action: &str, body: Value) -> Value {
    let scope = format!(
        "{}/20260101/{}/dynamodb/aws4_request",
        e2e::aws::ACCESS_KEY,
        e2e::aws::REGION
    );
    let response = stack
        .http
        .post(&stack.moto_url)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{action}"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=content-type;host;x-amz-target, Signature={}",
                "0".repeat(64)
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("moto_server answers");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{action}: not JSON: {text}"))
}

/// A DynamoDB JSON value (`{"S": ...}`, `{"M": ...}`, ...) as plain JSON.
fn plain(value: &Value) -> Value {
    let Some((tag, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return value.clone();
    };
    let number = |n: &Value| {
        let text = n.as_str().unwrap_or_default();
        text.parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_owned()))
    };
    match tag.as_str() {
        "S" | "BOOL" | "SS" | "B" | "BS" => inner.clone(),
        "NULL" => Value::Null,
        "N" => number(inner),
        "NS" => inner.as_array().into_iter().flatten().map(number).collect(),
        "L" => inner.as_array().into_iter().flatten().map(plain).collect(),
        "M" => image(inner),
        _ => value.clone(),
    }
}

/// An item's attribute map in DynamoDB JSON as a plain JSON object.
fn image(attributes: &Value) -> Value {
    Value::Object(
        attributes
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect(),
    )
}

/// A stream record as the Pipe sees it, its keys and new image in plain JSON, and the Pipe's
/// verdict on it.
struct Record {
    raw: Value,
    name: String,
    pk: String,
    sk: String,
    image: Value,
    passes: bool,
    detail_type: Option<String>,
}

impl Record {
    fn is_event_insert(&self) -> bool {
        self.name == "INSERT" && self.sk.starts_with("EVENT#")
    }

    /// What kind of item the record is of: the key prefix DESIGN's table names it by.
    fn kind(&self) -> String {
        for prefix in ["SESSION#", "REF#", "USER#", "WEBHOOK#", "DELETION#"] {
            if self.pk.starts_with(prefix) {
                return prefix.trim_end_matches('#').to_owned();
            }
        }
        self.sk.split('#').next().unwrap_or_default().to_owned()
    }
}

/// Every record of the table's stream since it was created, oldest first, in the shape an
/// EventBridge Pipe's DynamoDB source hands its filter (moto's records plus `eventSourceARN`).
async fn stream_records(stack: &Stack) -> Vec<Value> {
    let listed = streams_call(stack, "ListStreams", json!({"TableName": TABLE})).await;
    let streams = listed["Streams"].as_array().cloned().unwrap_or_default();
    assert_eq!(streams.len(), 1, "the table has one stream: {listed}");
    let arn = streams[0]["StreamArn"]
        .as_str()
        .expect("StreamArn")
        .to_owned();
    let described = streams_call(stack, "DescribeStream", json!({"StreamArn": arn})).await;
    let description = &described["StreamDescription"];
    assert_eq!(description["StreamViewType"], "NEW_IMAGE", "{described}");
    assert_eq!(description["StreamStatus"], "ENABLED", "{described}");
    let mut records = Vec::new();
    for shard in description["Shards"].as_array().into_iter().flatten() {
        let iterator = streams_call(
            stack,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let mut next = iterator["ShardIterator"].clone();
        loop {
            let page = streams_call(
                stack,
                "GetRecords",
                json!({"ShardIterator": next, "Limit": 1000}),
            )
            .await;
            let got = page["Records"].as_array().cloned().unwrap_or_default();
            if got.is_empty() {
                break;
            }
            records.extend(got.into_iter().map(|mut record| {
                record["eventSourceARN"] = Value::String(arn.clone());
                record
            }));
            next = page["NextShardIterator"].clone();
            assert!(!next.is_null(), "an open shard has a next iterator");
        }
    }
    records
}

/// The Pipe's verdict on each record, from the template's filter and detail-type path.
async fn pipe_verdicts(records: &[Value]) -> Vec<Value> {
    use tokio::io::AsyncWriteExt;
    let root = workspace_root();
    let mut child = tokio::process::Command::new(root.join(".venv/bin/python"))
        .arg("pipe_filter.py")
        .current_dir(root.join("tests/infra"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tests/infra/pipe_filter.py with the project's venv (make venv)");
    let input = serde_json::to_vec(records).expect("records are JSON");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&input).await.expect("feed the records");
    drop(stdin);
    let output = child.wait_with_output().await.expect("pipe_filter.py ends");
    assert!(
        output.status.success(),
        "pipe_filter.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: Vec<Value> =
        serde_json::from_slice(&output.stdout).expect("pipe_filter.py answers a JSON list");
    assert_eq!(verdicts.len(), records.len(), "one verdict a record");
    verdicts
}

/// The stream, each record with the Pipe's verdict.
async fn judged_stream(stack: &Stack) -> Vec<Record> {
    let raw = stream_records(stack).await;
    let verdicts = pipe_verdicts(&raw).await;
    raw.into_iter()
        .zip(verdicts)
        .map(|(raw, verdict)| {
            let dynamodb = &raw["dynamodb"];
            let key = |name: &str| {
                plain(&dynamodb["Keys"][name])
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            Record {
                name: raw["eventName"].as_str().unwrap_or_default().to_owned(),
                pk: key("pk"),
                sk: key("sk"),
                image: dynamodb.get("NewImage").map(image).unwrap_or(Value::Null),
                passes: verdict["passes"] == true,
                detail_type: verdict["detail_type"].as_str().map(str::to_owned),
                raw,
            }
        })
        .collect()
}

/// How many records the stream holds now: what a case writes comes after.
async fn stream_mark(stack: &Stack) -> usize {
    stream_records(stack).await.len()
}

/// A fact of an event: a top-level attribute, or one under `detail`.
fn fact(event: &Value, name: &str) -> String {
    let value = event
        .get(name)
        .filter(|v| !v.is_null())
        .or_else(|| event.get("detail").and_then(|d| d.get(name)))
        .unwrap_or(&Value::Null);
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An event's time in epoch seconds, from its `at` (RFC 3339, or epoch seconds).
fn event_epoch(event: &Value) -> i64 {
    match &event["at"] {
        Value::Number(n) => n.as_i64().expect("at in seconds"),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("at {s:?} is not RFC 3339: {e}"))
            .timestamp(),
        other => panic!("an event without its time: {other} in {event}"),
    }
}

fn client(business: &Business) -> String {
    format!("CLIENT#{}", business.id)
}

/// The index of the one event insert of `kind` under `pk` among `records`.
fn the_event(records: &[Record], pk: &str, kind: &str) -> usize {
    let found: Vec<usize> = (0..records.len())
        .filter(|&i| {
            records[i].is_event_insert() && records[i].pk == pk && records[i].image["type"] == kind
        })
        .collect();
    assert_eq!(found.len(), 1, "one {kind} event under {pk}: {found:?}");
    found[0]
}

/// Finds the record of the change an event describes beside the event's own record: between
/// them only writes a transaction of the service makes together with an event (the item it
/// changes, the pending marker it clears, the session it completes, the index items it moves).
/// moto appends a transaction's records in a row and drops them all when it is cancelled.
fn written_with<'a>(
    records: &'a [Record],
    event: usize,
    what: &str,
    change: impl Fn(&Record) -> bool,
) -> &'a Record {
    let pk = records[event].pk.clone();
    let same_write = |r: &Record| {
        (r.pk == pk && !r.sk.starts_with("EVENT#") && !r.sk.starts_with("DATASET#"))
            || ["SESSION#", "REF#", "USER#"]
                .iter()
                .any(|p| r.pk.starts_with(p))
    };
    for step in [-1isize, 1] {
        let mut i = event as isize + step;
        while i >= 0 && (i as usize) < records.len() && same_write(&records[i as usize]) {
            if change(&records[i as usize]) {
                return &records[i as usize];
            }
            i += step;
        }
    }
    let around: Vec<String> = records[event.saturating_sub(6)..(event + 7).min(records.len())]
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.pk, r.sk, r.image))
        .collect();
    panic!(
        "no {what} written with the {} event:\n{}",
        records[event].image["type"],
        around.join("\n")
    )
}

async fn fetch(stack: &Stack, payload: Value) -> Result<Value, String> {
    stack.invoke("token-fetch", &payload).await
}

/// Whether the emulator still holds a fault for `path` (a case before may have left others).
async fn fault_pending(stack: &Stack, path: &str) -> bool {
    stack.emulator_json_get("/_emulator/faults").await["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| f["path"] == path)
}

/// The stream and the Pipe over every event type, each written with its change.
pub async fn events_of_every_type_come_with_their_change_and_only_they_pass_the_pipe_filter(
    stack: &Stack,
) {
    let started = now_epoch();
    let mark = stream_mark(stack).await;

    // A: onboarded, mints a granular token, loses part of its grants, is offboarded.
    let a = stack.new_business_with_pixels(2, 0, false).await;
    stack.onboard(&a, "acct-events-a").await;
    let granted = stack.item(&client(&a), "CLIENT").await.expect("client A")["granted_assets"]
        ["ads_management"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(granted.len() >= 2, "two assets granted: {granted:?}");
    let kept = granted[0].as_str().unwrap().to_owned();
    let dropped = granted[1].as_str().unwrap().to_owned();
    let minted = fetch(
        stack,
        json!({"client_business_id": a.id, "scope": ["ads_management"], "assets": [kept]}),
    )
    .await
    .expect("a granular token");
    assert_eq!(minted["kind"], "granular");
    stack
        .emulator_json(
            &format!("/_emulator/businesses/{}/grants", a.id),
            &json!({"targets": [kept]}),
        )
        .await;
    let delivered = stack
        .emulator_json(
            "/_emulator/webhooks",
            &json!({"field": "business_integration_update", "business_id": a.id,
                "url": format!("{}/webhooks/meta", stack.invoke_url)}),
        )
        .await;
    assert_eq!(delivered["statuses"], json!([200]), "{delivered}");
    let offboarded = stack
        .invoke(
            "offboarding",
            &json!({"client_business_id": a.id, "reason": "events_e2e_contract_ended"}),
        )
        .await
        .expect("offboarding answers");
    assert_eq!(offboarded["status"], "offboarded");

    // B: onboarded, its token dies at Meta, it connects again.
    let b = stack.new_business().await;
    stack.onboard(&b, "acct-events-b").await;
    stack.invalidate_tokens(&b).await;
    let refused = stack
        .get(&format!("/clients/{}/datasets?refresh=true", b.id))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    stack.onboard(&b, "acct-events-b").await;

    // The partner's system user: provisioned, rotated, then a rotation Meta refuses with 190.
    let provisioned = fetch(
        stack,
        json!({"action": "partner.provision", "system_user_id": PARTNER_SYSTEM_USER, "scope": PARTNER_SCOPES}),
    )
    .await
    .expect("provisioned");
    assert_eq!(provisioned["system_user_id"], PARTNER_SYSTEM_USER);
    fetch(stack, json!({"action": "partner.rotate"}))
        .await
        .expect("rotated");
    let partner_before = stack
        .item("PARTNER", "SYSTEM_USER")
        .await
        .expect("partner item");
    let rotate_path = format!("/{PARTNER_SYSTEM_USER}/access_tokens");
    stack
        .inject_fault(json!({"path": rotate_path, "method": "POST",
            "error": {"code": 190, "subcode": 460, "message": "Error validating access token: injected by the events case"}}))
        .await;
    assert_eq!(
        fetch(stack, json!({"action": "partner.rotate"})).await,
        Err("PartnerCredentials".into())
    );
    assert!(
        !fault_pending(stack, &rotate_path).await,
        "the fault was used"
    );
    let partner_after = stack
        .item("PARTNER", "SYSTEM_USER")
        .await
        .expect("partner item");
    assert_eq!(
        partner_after, partner_before,
        "a refused rotation changes nothing"
    );
    let finished = now_epoch();

    let all = judged_stream(stack).await;
    assert!(all.len() > mark, "the case wrote to the stream");

    // The filter over the whole stream (every case before this one too): exactly the inserts
    // of event items pass, each with its own type as detail-type.
    let wrong: Vec<String> = all
        .iter()
        .filter(|r| {
            r.passes != r.is_event_insert()
                || (r.passes && r.detail_type.as_deref() != r.image["type"].as_str())
        })
        .map(|r| {
            format!(
                "{} {} {} passes={} detail_type={:?}",
                r.name, r.pk, r.sk, r.passes, r.detail_type
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "the Pipe's filter misjudges:\n{}",
        wrong.join("\n")
    );
    let mine = &all[mark..];
    // What did not pass covers every other kind of item and every kind of record.
    let rejected: BTreeSet<String> = mine
        .iter()
        .filter(|r| !r.passes)
        .map(|r| r.kind())
        .collect();
    for kind in [
        "CLIENT",
        "DATASET",
        "TOKEN",
        "PENDING",
        "SESSION",
        "REF",
        "USER",
        "WEBHOOK",
        "SYSTEM_USER",
    ] {
        assert!(
            rejected.contains(kind),
            "no {kind} record was put to the filter: {rejected:?}"
        );
    }
    let names: BTreeSet<&str> = mine
        .iter()
        .filter(|r| !r.passes)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["INSERT", "MODIFY", "REMOVE"].into(),
        "inserts, modifications and removals were put to the filter"
    );
    let passed: BTreeSet<&str> = mine
        .iter()
        .filter_map(|r| r.detail_type.as_deref())
        .collect();
    assert_eq!(
        passed,
        EVENT_TYPES.into(),
        "every event type reached the bus"
    );

    // No token or code the emulator ever issued sits in any record of the stream.
    let issued = stack.issued_secrets().await;
    assert!(issued.len() > 5, "the emulator issued tokens");
    let text = serde_json::to_string(&all.iter().map(|r| &r.raw).collect::<Vec<_>>()).unwrap();
    let leaked: Vec<String> = issued
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .map(|s| format!("{}...", &s[..8.min(s.len())]))
        .collect();
    assert!(
        leaked.is_empty(),
        "token values in stream records: {leaked:?}"
    );

    // Each event: in the table as recorded, its TTL, its facts, and its change beside it.
    let (pk_a, pk_b) = (client(&a), client(&b));
    let check = |index: usize| {
        let record = &mine[index];
        let event = &record.image;
        let at = event_epoch(event);
        assert!(
            (started - 5..=finished + 5).contains(&at),
            "an event of this run: {event}"
        );
        let ttl = event["expires_at_epoch"]
            .as_i64()
            .unwrap_or_else(|| panic!("no expires_at_epoch: {event}"));
        assert!(
            (ttl - at - EVENT_TTL_SECS).abs() <= 60,
            "TTL 400 days after the event: {event}"
        );
        if let Some(id) = record.pk.strip_prefix("CLIENT#") {
            assert_eq!(fact(event, "client_business_id"), id, "{event}");
        }
        event.clone()
    };

    let onboarded_a = the_event(mine, &pk_a, "client.onboarded");
    let event = check(onboarded_a);
    assert_eq!(fact(&event, "partner_ref"), "acct-events-a", "{event}");
    assert_eq!(fact(&event, "mode"), "bisu", "{event}");
    written_with(mine, onboarded_a, "new active client A", |r| {
        r.pk == pk_a
            && r.sk == "CLIENT"
            && r.name == "INSERT"
            && r.image["status"] == "active"
            && r.image["partner_ref"] == "acct-events-a"
    });

    let minted_a = the_event(mine, &pk_a, "token.minted");
    let event = check(minted_a);
    assert_eq!(fact(&event, "scopes"), "ads_management", "{event}");
    assert_eq!(fact(&event, "assets"), kept, "{event}");
    let token_id = fact(&event, "token_id");
    assert!(!token_id.is_empty(), "the event names the token: {event}");
    written_with(mine, minted_a, "TOKEN# item", |r| {
        r.name == "INSERT"
            && r.sk == format!("TOKEN#{token_id}")
            && r.image["assets"] == json!([kept])
    });

    let changed_a = the_event(mine, &pk_a, "client.assets_changed");
    let event = check(changed_a);
    assert!(
        fact(&event, "scopes")
            .split(',')
            .any(|s| s == "ads_management"),
        "{event}"
    );
    let assets = fact(&event, "assets");
    assert!(
        assets.contains(&kept) && !assets.contains(&dropped),
        "the assets granted now: {event}"
    );
    written_with(mine, changed_a, "client A with the new grants", |r| {
        r.sk == "CLIENT"
            && r.name == "MODIFY"
            && r.image["granted_assets"]["ads_management"] == json!([kept])
    });

    let offboarded_a = the_event(mine, &pk_a, "client.offboarded");
    let event = check(offboarded_a);
    assert_eq!(
        fact(&event, "reason"),
        "events_e2e_contract_ended",
        "{event}"
    );
    written_with(mine, offboarded_a, "client A offboarded", |r| {
        r.sk == "CLIENT"
            && r.image["status"] == "offboarded"
            && r.image["offboard_reason"] == "events_e2e_contract_ended"
    });

    let onboarded_b = the_event(mine, &pk_b, "client.onboarded");
    let event = check(onboarded_b);
    assert_eq!(fact(&event, "partner_ref"), "acct-events-b", "{event}");
    assert_eq!(fact(&event, "mode"), "bisu", "{event}");
    written_with(mine, onboarded_b, "new active client B", |r| {
        r.sk == "CLIENT" && r.name == "INSERT" && r.image["status"] == "active"
    });

    let reconnect_b = the_event(mine, &pk_b, "client.needs_reconnect");
    let event = check(reconnect_b);
    assert!(!fact(&event, "reason").is_empty(), "a reason: {event}");
    written_with(mine, reconnect_b, "client B needing to reconnect", |r| {
        r.sk == "CLIENT" && r.name == "MODIFY" && r.image["status"] == "needs_reconnect"
    });

    let reconnected_b = the_event(mine, &pk_b, "client.reconnected");
    let event = check(reconnected_b);
    assert_eq!(fact(&event, "partner_ref"), "acct-events-b", "{event}");
    assert_eq!(fact(&event, "mode"), "bisu", "{event}");
    written_with(mine, reconnected_b, "client B active again", |r| {
        r.sk == "CLIENT" && r.image["status"] == "active"
    });
    assert!(reconnect_b > onboarded_b && reconnected_b > reconnect_b);

    // The partner's events of this run: two rotations (provision and rotate), one refusal.
    let partner_events: Vec<usize> = (0..mine.len())
        .filter(|&i| mine[i].is_event_insert() && mine[i].pk == "PARTNER")
        .collect();
    let of_type = |kind: &str| -> Vec<usize> {
        partner_events
            .iter()
            .copied()
            .filter(|&i| mine[i].image["type"] == kind)
            .collect()
    };
    let rotated = of_type("partner.token_rotated");
    assert_eq!(rotated.len(), 2, "provision and rotation");
    let mut versions = BTreeSet::new();
    for index in rotated {
        let event = check(index);
        assert_eq!(
            fact(&event, "system_user_id"),
            PARTNER_SYSTEM_USER,
            "{event}"
        );
        assert!(!fact(&event, "scopes").is_empty(), "{event}");
        let item = written_with(mine, index, "partner system user item", |r| {
            r.sk == "SYSTEM_USER" && r.image["system_user_id"] == PARTNER_SYSTEM_USER
        });
        versions.insert(item.image["secret"]["version"].to_string());
    }
    assert_eq!(versions.len(), 2, "each rotation recorded its own secret");
    let invalid = of_type("partner.token_invalid");
    assert_eq!(invalid.len(), 1, "one refusal");
    let event = check(invalid[0]);
    assert_eq!(
        fact(&event, "credential"),
        "partner_system_user_token",
        "{event}"
    );
    assert!(!fact(&event, "reason").is_empty(), "{event}");
    assert!(
        mine[invalid[0]..]
            .iter()
            .all(|r| r.pk != "PARTNER" || r.sk.starts_with("EVENT#")),
        "the refused rotation wrote nothing but its event"
    );

    // The table holds each event item as the stream recorded it, and nothing more.
    for pk in [&pk_a, &pk_b, &"PARTNER".to_owned()] {
        for record in mine.iter().filter(|r| r.is_event_insert() && &r.pk == pk) {
            let item = stack.item(pk, &record.sk).await;
            assert_eq!(item.as_ref(), Some(&record.image), "{pk} {}", record.sk);
        }
    }
    for (pk, count) in [(&pk_a, 4), (&pk_b, 3)] {
        let events = stack
            .items_under(pk)
            .await
            .into_iter()
            .filter(|i| i["sk"].as_str().unwrap().starts_with("EVENT#"))
            .count();
        assert_eq!(events, count, "the events under {pk}");
    }
    let final_a = stack.item(&pk_a, "CLIENT").await.unwrap();
    assert_eq!(final_a["status"], "offboarded");
    let final_b = stack.item(&pk_b, "CLIENT").await.unwrap();
    assert_eq!(final_b["status"], "active");
}

/// Changes that fail leave no event: an onboarding a Graph call fails, a mint Meta refuses, a
/// mint whose transaction DynamoDB cancels (the client began leaving meanwhile), a rotation Meta
/// refuses (covered above: only `partner.token_invalid`).
pub async fn failed_changes_leave_no_events(stack: &Stack) {
    let mark = stream_mark(stack).await;

    // C: Graph fails `/me` during the onboarding: no client, no event; the retry gives one.
    let c = stack.new_business().await;
    let session = stack.create_session("acct-events-c").await;
    let code = stack.issue_code(&c, None).await;
    stack
        .inject_fault(json!({"path": "/me", "count": 1, "status": 400,
            "error": {"code": 100, "message": "Injected by the events case"}}))
        .await;
    let failed = stack.post_code(&code, &session.state).await;
    assert!(
        (400..600).contains(&failed.status),
        "{} {}",
        failed.status,
        failed.body
    );
    assert!(!fault_pending(stack, "/me").await, "the fault was used");
    assert!(stack.item(&client(&c), "CLIENT").await.is_none());
    assert!(
        stack.items_under(&client(&c)).await.is_empty(),
        "nothing under the client"
    );
    assert!(stack.client_secrets(&c).await.is_empty());
    let after_failure = judged_stream(stack).await;
    assert!(
        after_failure[mark..]
            .iter()
            .all(|r| r.pk != client(&c) && !r.passes),
        "the failed onboarding wrote no client record and no event"
    );
    let code = stack.issue_code(&c, None).await;
    let retried = stack.post_code(&code, &session.state).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let events: Vec<Value> = stack
        .items_under(&client(&c))
        .await
        .into_iter()
        .filter(|i| i["sk"].as_str().unwrap().starts_with("EVENT#"))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "client.onboarded");

    // D: a mint Meta refuses (permission) leaves no TOKEN# item and no event.
    let d = stack.new_business_with_pixels(1, 0, false).await;
    stack.onboard(&d, "acct-events-d").await;
    let asset =
        stack.item(&client(&d), "CLIENT").await.unwrap()["granted_assets"]["ads_management"][0]
            .as_str()
            .expect("a granted asset")
            .to_owned();
    let request =
        json!({"client_business_id": d.id, "scope": ["ads_management"], "assets": [asset]});
    let mint_path = format!("/{}/system_user_access_tokens", d.id);
    stack
        .inject_fault(json!({"path": mint_path, "method": "POST", "count": 1,
            "error": {"code": 200, "message": "(#200) Injected by the events case"}}))
        .await;
    assert_eq!(
        fetch(stack, request.clone()).await,
        Err("PermissionDenied".into())
    );
    let no_mint = |items: &[Value]| {
        items.iter().all(|i| {
            let sk = i["sk"].as_str().unwrap();
            !sk.starts_with("TOKEN#") && !sk.starts_with("PENDING#") && i["type"] != "token.minted"
        })
    };
    assert!(no_mint(&stack.items_under(&client(&d)).await));
    assert_eq!(
        stack.item(&client(&d), "CLIENT").await.unwrap()["status"],
        "active",
        "a refused permission is no reason to reconnect"
    );

    // D again: the client starts leaving while Meta mints. The secret is written, then the
    // transaction that would record it with its event is cancelled by the client's condition.
    stack
        .inject_fault(json!({"path": mint_path, "method": "POST", "count": 1, "delay_ms": 3000}))
        .await;
    let leave = async {
        for _ in 0..200 {
            if !fault_pending(stack, &mint_path).await {
                // The mint has reached Meta and waits there.
                stack.set_client_status(&d, "offboarding").await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the mint never reached Graph");
    };
    let (raced, ()) = tokio::join!(fetch(stack, request.clone()), leave);
    assert_eq!(raced, Err("ClientOffboarded".into()));
    assert!(no_mint(&stack.items_under(&client(&d)).await));
    assert_eq!(
        stack.client_secrets(&d).await.len(),
        1,
        "only the BISU secret: the minted one was deleted again"
    );
    let stream = judged_stream(stack).await;
    let of_d: Vec<&Record> = stream[mark..]
        .iter()
        .filter(|r| r.pk == client(&d))
        .collect();
    let minted_in_stream = |r: &&Record| {
        r.sk.starts_with("TOKEN#") || (r.is_event_insert() && r.image["type"] == "token.minted")
    };
    assert!(
        !of_d.iter().any(minted_in_stream),
        "no minted token and no token.minted event reached the stream"
    );
    let pending: Vec<&str> = of_d
        .iter()
        .filter(|r| r.sk.starts_with("PENDING#") && r.sk.contains("/tokens/"))
        .map(|r| r.name.as_str())
        .collect();
    // Each mint claims its token with the marker before calling Meta: the refused mint's
    // claim was released, and the raced mint's marker was cleared after the cancelled
    // transaction.
    assert_eq!(
        pending,
        ["INSERT", "REMOVE", "INSERT", "REMOVE"],
        "each mint's marker (its claim) went first and was cleared at its end"
    );

    // Back to active, the same mint succeeds with exactly one event.
    stack.set_client_status(&d, "active").await;
    let minted = fetch(stack, request).await.expect("a granular token");
    assert_eq!(minted["kind"], "granular");
    let items = stack.items_under(&client(&d)).await;
    assert_eq!(
        items.iter().filter(|i| i["type"] == "token.minted").count(),
        1
    );
    assert_eq!(
        items
            .iter()
            .filter(|i| i["sk"].as_str().unwrap().starts_with("TOKEN#"))
            .count(),
        1
    );
    assert!(!fault_pending(stack, &mint_path).await);
}
