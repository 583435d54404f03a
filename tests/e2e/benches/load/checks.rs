//! What the table and Secrets Manager must hold afterwards, read through the AWS SDK: each
//! onboarded client active with its token secret, each granular token recorded with its own,
//! one completed session, one `client.onboarded` event and one partner ref per onboarding,
//! no pending marker and no secret beyond these.

use local_stack::aws::{Aws, SecretVersion};
use local_stack::stack::{SECRET_PREFIX, TABLE};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// Problems named in a check's detail, at most.
const NAMED: usize = 5;

fn check(name: &'static str, expected: usize, problems: Vec<String>) -> Check {
    let detail = if problems.is_empty() {
        format!("{expected} as expected")
    } else {
        let mut named: Vec<String> = problems.iter().take(NAMED).cloned().collect();
        if problems.len() > NAMED {
            named.push(format!("and {} more", problems.len() - NAMED));
        }
        format!(
            "{} of {expected} wrong: {}",
            problems.len(),
            named.join("; ")
        )
    };
    Check {
        name,
        passed: problems.is_empty(),
        detail,
    }
}

/// The table's items by partition, as JSON.
struct Table {
    by_pk: HashMap<String, Vec<Value>>,
}

impl Table {
    async fn read(aws: &Aws) -> Self {
        let mut by_pk: HashMap<String, Vec<Value>> = HashMap::new();
        for attrs in aws.scan(TABLE).await {
            let item: Value = serde_dynamo::from_item(attrs).expect("items read as JSON");
            let pk = item["pk"].as_str().unwrap_or_default().to_owned();
            by_pk.entry(pk).or_default().push(item);
        }
        Self { by_pk }
    }

    fn items(&self) -> impl Iterator<Item = &Value> {
        self.by_pk.values().flatten()
    }

    /// The client item of `id`.
    fn client(&self, id: &str) -> Option<&Value> {
        self.under(id, "CLIENT")
            .into_iter()
            .find(|i| i["sk"] == "CLIENT")
    }

    /// The items under `CLIENT#{id}` whose sort key starts with `prefix`.
    fn under(&self, id: &str, prefix: &str) -> Vec<&Value> {
        self.by_pk
            .get(&format!("CLIENT#{id}"))
            .into_iter()
            .flatten()
            .filter(|i| i["sk"].as_str().unwrap_or_default().starts_with(prefix))
            .collect()
    }
}

fn sk_starts(item: &Value, prefix: &str) -> bool {
    item["sk"].as_str().unwrap_or_default().starts_with(prefix)
}

/// The secret `item` points at exists, is not being deleted, and has its version current.
fn secret_problem(
    id: &str,
    item: &Value,
    name: &str,
    secrets: &BTreeMap<String, SecretVersion>,
) -> Option<String> {
    let version = item["secret"]["version"].as_str();
    match secrets.get(name) {
        _ if item["secret"]["name"].as_str() != Some(name) => Some(format!(
            "{id}: its item names secret {}",
            item["secret"]["name"]
        )),
        None => Some(format!("{id}: no secret {name}")),
        Some(s) if s.deletion_scheduled => Some(format!("{id}: {name} is scheduled for deletion")),
        Some(s) if s.current_version.as_deref() != version => Some(format!(
            "{id}: {name} current version {:?}, the item points at {version:?}",
            s.current_version
        )),
        Some(_) => None,
    }
}

pub async fn run(
    aws: &Aws,
    onboardings: usize,
    clients: &[String],
    granular: &BTreeSet<String>,
) -> Vec<Check> {
    let table = Table::read(aws).await;
    let secrets: BTreeMap<String, SecretVersion> = aws
        .secret_versions()
        .await
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut checks = Vec::new();

    let distinct: BTreeSet<&String> = clients.iter().collect();
    let mut problems = Vec::new();
    if clients.len() != onboardings {
        problems.push(format!("{} onboardings answered", clients.len()));
    }
    if distinct.len() != clients.len() {
        problems.push(format!("{} distinct client ids", distinct.len()));
    }
    checks.push(check(
        "every onboarding answered its own client",
        onboardings,
        problems,
    ));

    let client_items = table.items().filter(|i| i["sk"] == "CLIENT").count();
    let mut problems: Vec<String> = clients
        .iter()
        .filter_map(|id| {
            let item = table.client(id);
            match item {
                None => Some(format!("{id}: no client item")),
                Some(i) if i["status"] != "active" || i["mode"] != "bisu" => {
                    Some(format!("{id}: status {}, mode {}", i["status"], i["mode"]))
                }
                Some(_) => None,
            }
        })
        .collect();
    if client_items != clients.len() {
        problems.push(format!("{client_items} client items in the table"));
    }
    checks.push(check("client items: active, bisu", clients.len(), problems));

    let problems = clients
        .iter()
        .filter_map(|id| {
            let item = table.client(id)?;
            let name = format!("{SECRET_PREFIX}/clients/{id}/bisu");
            secret_problem(id, item, &name, &secrets)
        })
        .collect();
    checks.push(check(
        "client token secrets: present, current version recorded",
        clients.len(),
        problems,
    ));

    let sessions: Vec<&Value> = table.items().filter(|i| i["sk"] == "SESSION").collect();
    let mut problems: Vec<String> = sessions
        .iter()
        .filter(|s| s["status"] != "completed")
        .map(|s| format!("a session {}", s["status"]))
        .collect();
    let completed: BTreeSet<&str> = sessions
        .iter()
        .filter_map(|s| s["result"]["client_business_id"].as_str())
        .collect();
    if sessions.len() != onboardings {
        problems.push(format!("{} sessions", sessions.len()));
    }
    problems.extend(
        clients
            .iter()
            .filter(|id| !completed.contains(id.as_str()))
            .map(|id| format!("{id}: no session completed with it")),
    );
    checks.push(check(
        "sessions: one each, completed",
        onboardings,
        problems,
    ));

    let problems = clients
        .iter()
        .filter_map(|id| {
            let events = table
                .under(id, "EVENT#")
                .into_iter()
                .filter(|e| e["type"] == "client.onboarded")
                .count();
            (events != 1).then(|| format!("{id}: {events} client.onboarded events"))
        })
        .collect();
    checks.push(check(
        "client.onboarded events: one each",
        clients.len(),
        problems,
    ));

    let mut refs: HashMap<&str, usize> = HashMap::new();
    for item in table
        .items()
        .filter(|i| i["pk"].as_str().unwrap_or_default().starts_with("REF#"))
    {
        *refs
            .entry(item["sk"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let problems = clients
        .iter()
        .filter_map(|id| {
            let count = refs
                .get(format!("CLIENT#{id}").as_str())
                .copied()
                .unwrap_or(0);
            (count != 1).then(|| format!("{id}: {count} partner refs"))
        })
        .collect();
    checks.push(check("partner refs: one each", clients.len(), problems));

    let problems = clients
        .iter()
        .filter_map(|id| {
            let tokens = table.under(id, "TOKEN#");
            match (granular.contains(id), tokens.as_slice()) {
                (false, []) => None,
                (true, [item]) => {
                    let name = item["secret"]["name"].as_str().unwrap_or_default();
                    let expected = format!("{SECRET_PREFIX}/clients/{id}/tokens/");
                    if name.starts_with(&expected) {
                        secret_problem(id, item, name, &secrets)
                    } else {
                        Some(format!("{id}: its token item names secret {name}"))
                    }
                }
                (asked, found) => Some(format!(
                    "{id}: {} token items, granular asked: {asked}",
                    found.len()
                )),
            }
        })
        .collect();
    checks.push(check(
        "granular tokens: one item each, its secret current",
        granular.len(),
        problems,
    ));

    let pending: Vec<String> = table
        .items()
        .filter(|i| sk_starts(i, "PENDING#"))
        .map(|i| format!("{} {}", i["pk"], i["sk"]))
        .collect();
    checks.push(check("no pending secret markers left", 0, pending));

    let expected = clients.len() + granular.len();
    let prefix = format!("{SECRET_PREFIX}/clients/");
    let client_secrets = secrets.keys().filter(|n| n.starts_with(&prefix)).count();
    let problems = if client_secrets == expected {
        vec![]
    } else {
        vec![format!("{client_secrets} client secrets")]
    };
    checks.push(check("no client secret beyond these", expected, problems));
    checks
}

/// At Meta (the emulator's state): one granular token still valid per client that asked for
/// one, however often it was minted again; every token a new mint replaced is revoked.
pub fn live_granular(state: &Value, granular: &BTreeSet<String>) -> Check {
    let mut live: BTreeMap<&str, usize> = BTreeMap::new();
    for token in state["tokens"].as_array().into_iter().flatten() {
        let minted = token["parent_id"].is_string() && token["page_id"].is_null();
        if minted && token["valid"] == true {
            *live
                .entry(token["business_id"].as_str().unwrap_or_default())
                .or_default() += 1;
        }
    }
    let problems = granular
        .iter()
        .map(|id| (id, live.get(id.as_str()).copied().unwrap_or(0)))
        .filter(|(_, count)| *count != 1)
        .map(|(id, count)| format!("{id}: {count} live granular tokens"))
        .chain(
            live.keys()
                .filter(|id| !granular.contains(**id))
                .map(|id| format!("{id}: a live granular token it never asked for")),
        )
        .collect();
    check(
        "granular tokens at Meta: one live each, the replaced ones revoked",
        granular.len(),
        problems,
    )
}
