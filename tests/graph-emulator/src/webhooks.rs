//! Webhook bodies of the `application` object as Meta builds and signs them.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// Meta puts at most this many changes in one delivery.
pub const MAX_CHANGES: usize = 1000;

/// One change: `field` happened to the integration in `business_id`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub field: String,
    pub business_id: String,
    /// Its entry's time (epoch seconds); default the delivery's `time`.
    #[serde(default)]
    pub time: Option<u64>,
}

/// How the changes become one delivery.
pub struct Layout {
    /// Entry time of changes that give none.
    pub time: u64,
    /// At most this many changes per entry (consecutive changes of the same time share one).
    pub per_entry: usize,
    /// Off: entries carry `changed_fields` and no `changes`.
    pub include_values: bool,
}

/// A change's `value`: install names the login configuration, the others only the business.
fn value(field: &str, business_id: &str, tp_config_id: &str) -> Value {
    if field == "business_integration_install" {
        json!({"business_manager_id": business_id, "tp_config_id": tp_config_id})
    } else {
        json!({ "business_manager_id": business_id })
    }
}

/// The delivery body for `changes` sent by app `app_id`.
pub fn body(app_id: &str, tp_config_id: &str, changes: &[Change], layout: &Layout) -> Value {
    let mut groups: Vec<(u64, Vec<&Change>)> = Vec::new();
    for change in changes {
        let time = change.time.unwrap_or(layout.time);
        match groups.last_mut() {
            Some((t, group)) if *t == time && group.len() < layout.per_entry.max(1) => {
                group.push(change)
            }
            _ => groups.push((time, vec![change])),
        }
    }
    let entries: Vec<Value> = groups
        .into_iter()
        .map(|(time, group)| {
            if layout.include_values {
                let changes: Vec<Value> = group
                    .iter()
                    .map(|c| json!({"field": c.field, "value": value(&c.field, &c.business_id, tp_config_id)}))
                    .collect();
                json!({"id": app_id, "time": time, "changes": changes})
            } else {
                let mut fields: Vec<&str> = Vec::new();
                for c in &group {
                    if !fields.contains(&c.field.as_str()) {
                        fields.push(&c.field);
                    }
                }
                json!({"id": app_id, "time": time, "changed_fields": fields})
            }
        })
        .collect();
    json!({"object": "application", "entry": entries})
}

/// `X-Hub-Signature-256` of a body: `sha256=` and the hex HMAC-SHA256 under the app secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(field: &str, business: &str, time: Option<u64>) -> Change {
        Change {
            field: field.into(),
            business_id: business.into(),
            time,
        }
    }

    fn layout(per_entry: usize, include_values: bool) -> Layout {
        Layout {
            time: 1_700_000_000,
            per_entry,
            include_values,
        }
    }

    #[test]
    fn one_change_is_metas_shape() {
        let body = body(
            "1",
            "2",
            &[change("business_integration_uninstall", "3", None)],
            &layout(MAX_CHANGES, true),
        );
        assert_eq!(
            body,
            json!({"object": "application", "entry": [{"id": "1", "time": 1_700_000_000u64,
                "changes": [{"field": "business_integration_uninstall", "value": {"business_manager_id": "3"}}]}]})
        );
        let install = super::body(
            "1",
            "2",
            &[change("business_integration_install", "3", None)],
            &layout(MAX_CHANGES, true),
        );
        assert_eq!(
            install["entry"][0]["changes"][0]["value"]["tp_config_id"],
            "2"
        );
    }

    #[test]
    fn many_changes_fill_one_entry_or_several() {
        let changes: Vec<Change> = (0..50)
            .map(|n| change("business_integration_update", &format!("{}", n % 5), None))
            .collect();
        let one = body("1", "2", &changes, &layout(MAX_CHANGES, true));
        assert_eq!(one["entry"].as_array().unwrap().len(), 1);
        assert_eq!(one["entry"][0]["changes"].as_array().unwrap().len(), 50);
        let several = body("1", "2", &changes, &layout(20, true));
        let sizes: Vec<usize> = several["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["changes"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [20, 20, 10]);
    }

    #[test]
    fn a_change_with_its_own_time_gets_its_own_entry() {
        let changes = [
            change("business_integration_uninstall", "3", Some(1_600_000_000)),
            change("business_integration_update", "4", None),
        ];
        let body = body("1", "2", &changes, &layout(MAX_CHANGES, true));
        assert_eq!(body["entry"][0]["time"], 1_600_000_000u64);
        assert_eq!(body["entry"][1]["time"], 1_700_000_000u64);
    }

    #[test]
    fn without_values_entries_list_changed_fields_only() {
        let changes = [
            change("business_integration_update", "3", None),
            change("business_integration_update", "4", None),
            change("business_integration_uninstall", "5", None),
        ];
        let body = body("1", "2", &changes, &layout(MAX_CHANGES, false));
        let entry = &body["entry"][0];
        assert_eq!(
            entry["changed_fields"],
            json!([
                "business_integration_update",
                "business_integration_uninstall"
            ])
        );
        assert!(entry.get("changes").is_none());
    }

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_body() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published vector.
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
