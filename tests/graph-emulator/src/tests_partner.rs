//! Over HTTP: revocation, the partner's own system users, On-Behalf-Of and its login.

use serde_json::{Value, json};

use crate::tests::{Answer, answer, bisu, control, debug_token, emulator, graph_get, proof};
use crate::world::{SIXTY_DAYS, now_epoch, token_id};

const APP: &str = "1000000000000001";
const SECRET: &str = "demo-app-secret-not-a-real-secret";
const OTHER_APP: &str = "1000000000000002";
const OBO_CONFIG: &str = "2000000000000003";
const PARTNER_BM: &str = "7000000000000001";
const PARTNER_ADMIN_SU: &str = "7100000000000001";
const PARTNER_EMPLOYEE_SU: &str = "7100000000000002";
const PARTNER_PAGE: &str = "6700000000000001";
const COFFEE: &str = "3000000000000001";
const COFFEE_ADMIN: &str = "8000000000000001";
const FLOWERS: &str = "3000000000000003";
const FLOWERS_ADMIN: &str = "8000000000000003";
const FLOWER_PAGES: [&str; 3] = ["6000000000000003", "6000000000000004", "6000000000000005"];
const FLOWER_PIXEL: &str = "5000000000000004";
const FLOWER_CATALOG: &str = "9100000000000003";
const FLOWER_AD_ACCOUNT: &str = "act_9200000000000003";

fn app_token() -> String {
    format!("{APP}|{SECRET}")
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// A Graph call with a token and its proof, the other parameters as a form body.
async fn graph_post(base: &str, path: &str, token: &str, form: &[(&str, &str)]) -> Answer {
    let proof = proof(SECRET, token);
    let mut form: Vec<(&str, &str)> = form.to_vec();
    form.push(("appsecret_proof", &proof));
    answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0{path}"))
            .bearer_auth(token)
            .form(&form),
    )
    .await
}

async fn graph_delete(base: &str, path: &str, token: &str, query: &[(&str, &str)]) -> Answer {
    answer(
        reqwest::Client::new()
            .delete(format!("{base}/v25.0{path}"))
            .bearer_auth(token)
            .query(query)
            .query(&[("appsecret_proof", proof(SECRET, token))]),
    )
    .await
}

async fn get_json(base: &str, path: &str) -> Value {
    answer(reqwest::Client::new().get(format!("{base}{path}")))
        .await
        .body
}

fn assert_error(answer: &Answer, code: i64, message_starts: &str) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "{}", answer.body);
    assert!(
        text(&answer.body["error"]["message"]).starts_with(message_starts),
        "{}",
        answer.body
    );
}

async fn partner_token(base: &str) -> String {
    let issued = control(base, "/_emulator/partner-token", json!({"app_id": APP})).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    text(&issued.body["access_token"]).to_owned()
}

async fn inspect(base: &str, token: &str) -> Value {
    control(
        base,
        "/_emulator/tokens/inspect",
        json!({"access_token": token}),
    )
    .await
    .body
}

#[tokio::test]
async fn the_partner_token_names_its_system_user_and_scopes() {
    let base = emulator().await;
    let issued = control(&base, "/_emulator/partner-token", json!({"app_id": APP})).await;
    assert_eq!(issued.body["system_user_id"], PARTNER_ADMIN_SU);
    assert_eq!(issued.body["business_id"], PARTNER_BM);
    assert_eq!(issued.body["expires_at"], Value::Null);
    let scopes = issued.body["scopes"].as_array().unwrap();
    assert!(scopes.contains(&json!("business_management")));
    let token = text(&issued.body["access_token"]);
    let me = graph_get(&base, "/me", token, &[]).await;
    assert_eq!(
        me.body,
        json!({"id": PARTNER_ADMIN_SU, "name": "Demo Partner Admin System User"})
    );
    // Any known app still gets one (the partner business stands in for an app without one).
    let other = control(
        &base,
        "/_emulator/partner-token",
        json!({"app_id": OTHER_APP}),
    )
    .await;
    assert_eq!(other.status, 200);
    let unknown = control(&base, "/_emulator/partner-token", json!({"app_id": "9"})).await;
    assert_eq!(unknown.status, 400);
}

#[tokio::test]
async fn a_revoked_token_and_its_page_tokens_answer_190_everywhere() {
    let base = emulator().await;
    let partner = partner_token(&base).await;
    let page = graph_get(
        &base,
        &format!("/{PARTNER_PAGE}"),
        &partner,
        &[("fields", "access_token")],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page_token = text(&page.body["access_token"]).to_owned();
    let accounts = graph_get(&base, "/me/accounts", &partner, &[]).await;
    assert_eq!(
        accounts.body["data"][0]["access_token"],
        page_token.as_str()
    );

    let revoke = |secret: &'static str, target: String, with: String| {
        let base = base.clone();
        async move {
            answer(
                reqwest::Client::new()
                    .get(format!("{base}/v25.0/oauth/revoke"))
                    .query(&[
                        ("client_id", APP),
                        ("client_secret", secret),
                        ("revoke_token", &target),
                        ("access_token", &with),
                        ("appsecret_proof", &proof(SECRET, &with)),
                    ]),
            )
            .await
        }
    };
    let wrong = revoke("not-the-secret", partner.clone(), partner.clone()).await;
    assert_error(&wrong, 1, "Error validating client secret.");
    assert_eq!(wrong.body["error"]["type"], "OAuthException");
    assert_eq!(inspect(&base, &partner).await["valid"], true);

    let revoked = revoke(SECRET, partner.clone(), partner.clone()).await;
    assert_eq!(
        (revoked.status, &revoked.body),
        (200, &json!({"success": "true"}))
    );
    for token in [&partner, &page_token] {
        let call = graph_get(&base, "/me", token, &[]).await;
        assert_eq!(call.body["error"]["code"], 190, "{}", call.body);
        assert_eq!(call.body["error"]["error_subcode"], 467);
        let debug = debug_token(&base, &app_token(), token).await;
        assert_eq!(debug.body["data"]["is_valid"], false);
        assert_eq!(debug.body["data"]["error"]["code"], 190);
        let seen = inspect(&base, token).await;
        assert_eq!(
            (&seen["valid"], &seen["revoked"]),
            (&json!(false), &json!(true))
        );
    }
    // The token that made the call is dead too: it cannot revoke anything any more.
    let again = revoke(SECRET, partner.clone(), partner.clone()).await;
    assert_eq!(again.body["error"]["code"], 190);

    // The same parameters as a POST form, authenticated by another live token.
    let second = partner_token(&base).await;
    let third = partner_token(&base).await;
    let form = answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0/oauth/revoke"))
            .form(&[
                ("client_id", APP),
                ("client_secret", SECRET),
                ("revoke_token", &second),
                ("access_token", &third),
            ]),
    )
    .await;
    assert_eq!(form.body, json!({"success": "true"}));
    assert_eq!(inspect(&base, &third).await["valid"], true);

    let list = get_json(&base, "/_emulator/revoked").await;
    let ids: Vec<&str> = list["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| text(&r["token_id"]))
        .collect();
    assert_eq!(ids, [token_id(&partner), token_id(&second)]);
    assert_eq!(list["revoked"][0]["descendants_invalidated"], 1);
    assert_eq!(list["revoked"][0]["user_id"], PARTNER_ADMIN_SU);
    // No read-out and no logged URL holds a token value or the secret.
    let state = get_json(&base, "/_emulator/state").await.to_string();
    let log = get_json(&base, "/_emulator/requests").await;
    for value in [&partner, &second, &third, &page_token] {
        assert!(!list.to_string().contains(value.as_str()));
        assert!(!state.contains(value.as_str()));
    }
    let revokes: Vec<&Value> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "/oauth/revoke")
        .collect();
    assert_eq!(revokes.len(), 4);
    for entry in revokes {
        let url = text(&entry["url"]);
        assert!(!url.contains(SECRET) && !url.contains(&partner), "{url}");
        if entry["method"] == "GET" {
            assert!(
                url.contains("revoke_token=REDACTED") && url.contains("client_id=1000000000000001"),
                "{url}"
            );
        }
    }
    let unknown = inspect(&base, "EAAnever-issued").await;
    assert_eq!(unknown["known"], false);
}

#[tokio::test]
async fn revoke_refuses_what_it_cannot_revoke() {
    let base = emulator().await;
    let partner = partner_token(&base).await;
    let call = |params: Vec<(&'static str, String)>| {
        let base = base.clone();
        async move {
            answer(
                reqwest::Client::new()
                    .get(format!("{base}/v25.0/oauth/revoke"))
                    .query(&params),
            )
            .await
        }
    };
    let base_params = |revoke: &str| {
        vec![
            ("client_id", APP.to_owned()),
            ("client_secret", SECRET.to_owned()),
            ("revoke_token", revoke.to_owned()),
        ]
    };
    let unknown_app = call(vec![("client_id", "42".into())]).await;
    assert_error(&unknown_app, 101, "Error validating application");
    let no_caller = call(base_params(&partner)).await;
    assert_eq!(no_caller.body["error"]["code"], 2500);
    let mut params = base_params("EAAnever-issued");
    params.push(("access_token", partner.clone()));
    assert_eq!(call(params).await.body["error"]["code"], 190);
    let other = control(&base, "/_emulator/tokens", json!({})).await;
    let mut params = base_params(text(&other.body["access_token"]));
    params.push(("access_token", app_token()));
    assert_eq!(call(params).await.body["error"]["code"], 100);
    assert_eq!(inspect(&base, &partner).await["valid"], true);
}

#[tokio::test]
async fn the_partners_system_users_install_the_app_then_mint_tokens() {
    let base = emulator().await;
    let admin = partner_token(&base).await;
    let edge = format!("/{PARTNER_EMPLOYEE_SU}/access_tokens");
    let mint_form = [
        ("business_app", APP),
        ("scope", "business_management,ads_management"),
        ("set_token_expires_in_60_days", "true"),
    ];
    let not_installed = graph_post(&base, &edge, &admin, &mint_form).await;
    assert_error(&not_installed, 200, "(#200) The app");

    let install = format!("/{PARTNER_EMPLOYEE_SU}/applications");
    let installed = graph_post(&base, &install, &admin, &[("business_app", APP)]).await;
    assert_eq!((installed.status, &installed.body), (200, &json!(true)));
    let again = graph_post(&base, &install, &admin, &[("business_app", APP)]).await;
    assert_eq!(again.body, json!(true));
    let state = get_json(&base, "/_emulator/state").await;
    assert!(
        state["installs"]
            .as_array()
            .unwrap()
            .contains(&json!({"system_user_id": PARTNER_EMPLOYEE_SU, "app_id": APP}))
    );

    // appsecret_proof is required here whatever the app says.
    let bare = answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0{edge}"))
            .bearer_auth(&admin)
            .form(&mint_form),
    )
    .await;
    assert_error(
        &bare,
        100,
        "API calls from the server require an appsecret_proof argument",
    );
    let mut wrong: Vec<(&str, &str)> = mint_form.to_vec();
    wrong.push(("appsecret_proof", "00ff"));
    let wrong = answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0{edge}"))
            .bearer_auth(&admin)
            .form(&wrong),
    )
    .await;
    assert_error(
        &wrong,
        100,
        "Invalid appsecret_proof provided in the API argument",
    );

    let minted = graph_post(&base, &edge, &admin, &mint_form).await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    let token = text(&minted.body["access_token"]).to_owned();
    let debug = debug_token(&base, &app_token(), &token).await;
    let expires = debug.body["data"]["expires_at"].as_u64().unwrap();
    assert!(
        expires.abs_diff(now_epoch() + SIXTY_DAYS) < 60,
        "{}",
        debug.body
    );
    assert_eq!(debug.body["data"]["user_id"], PARTNER_EMPLOYEE_SU);
    assert_eq!(debug.body["data"]["type"], "SYSTEM_USER");
    assert_eq!(
        debug.body["data"]["scopes"],
        json!(["business_management", "ads_management"])
    );
    // A token without the flag never expires...
    let forever = graph_post(
        &base,
        &edge,
        &admin,
        &[("business_app", APP), ("scope", "ads_read")],
    )
    .await;
    let forever = text(&forever.body["access_token"]).to_owned();
    assert_eq!(
        debug_token(&base, &app_token(), &forever).await.body["data"]["expires_at"],
        0
    );
    // ...until the business requires expiring tokens.
    let set = control(
        &base,
        &format!("/_emulator/businesses/{PARTNER_BM}/settings"),
        json!({"requires_expiring_tokens": true}),
    )
    .await;
    assert_eq!(set.status, 204);
    let refused = graph_post(
        &base,
        &edge,
        &admin,
        &[("business_app", APP), ("scope", "ads_read")],
    )
    .await;
    assert_error(&refused, 100, "(#100) This business requires");
    let flagged = graph_post(&base, &edge, &admin, &mint_form).await;
    assert_eq!(flagged.status, 200);

    // The new token works on its own and can mint in turn (a system user of the same business).
    let me = graph_get(&base, "/me", &token, &[]).await;
    assert_eq!(me.body["id"], PARTNER_EMPLOYEE_SU);
    let bad_scope = graph_post(
        &base,
        &edge,
        &token,
        &[
            ("business_app", APP),
            ("scope", "not_a_permission"),
            ("set_token_expires_in_60_days", "true"),
        ],
    )
    .await;
    assert_error(&bad_scope, 100, "(#100) Invalid scope");
    let other_app = graph_post(&base, &install, &admin, &[("business_app", OTHER_APP)]).await;
    assert_error(&other_app, 100, "(#100) The app");
    // A client's BISU does not manage the partner's system users.
    let client = bisu(&base).await;
    let foreign = graph_post(&base, &install, &client, &[("business_app", APP)]).await;
    assert_error(&foreign, 200, "(#200)");
    let unknown = graph_post(
        &base,
        "/7100000000000099/applications",
        &admin,
        &[("business_app", APP)],
    )
    .await;
    assert_eq!(unknown.body["error"]["code"], 100);
}

/// The client admin's user token, from the On-Behalf-Of login (control code + exchange).
async fn admin_token(base: &str, business: &str, user: &str) -> (String, Value) {
    let code = control(
        base,
        "/_emulator/codes",
        json!({"app_id": APP, "config_id": OBO_CONFIG, "business_id": business, "user_id": user}),
    )
    .await;
    assert_eq!(code.status, 200, "{}", code.body);
    let exchanged = answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0/oauth/access_token"))
            .form(&[
                ("client_id", APP),
                ("client_secret", SECRET),
                ("code", text(&code.body["code"])),
            ]),
    )
    .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    (
        text(&exchanged.body["access_token"]).to_owned(),
        exchanged.body,
    )
}

async fn client_token(base: &str, partner: &str, client: &str, scope: &str) -> Answer {
    answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0/{client}/access_token"))
            .bearer_auth(partner)
            .query(&[
                ("scope", scope),
                ("app_id", APP),
                ("appsecret_proof", &proof(SECRET, partner)),
            ]),
    )
    .await
}

#[tokio::test]
async fn on_behalf_of_from_the_admins_login_to_stable_page_tokens_and_back() {
    let base = emulator().await;
    let partner = partner_token(&base).await;
    let (admin, exchanged) = admin_token(&base, FLOWERS, FLOWERS_ADMIN).await;
    assert!(exchanged["expires_in"].as_u64().unwrap() > 59 * 24 * 3600);
    let me = graph_get(&base, "/me", &admin, &[]).await;
    assert_eq!(me.body["id"], FLOWERS_ADMIN);
    let cbi = graph_get(&base, "/me", &admin, &[("fields", "client_business_id")]).await;
    assert_eq!(cbi.body["error"]["code"], 190);
    let debug = debug_token(&base, &app_token(), &admin).await;
    assert_eq!(debug.body["data"]["type"], "USER");

    // Without the relationship the partner cannot create its system user there.
    let early = client_token(&base, &partner, FLOWERS, "business_management").await;
    assert_error(&early, 200, "(#200)");

    let managed = format!("/{PARTNER_BM}/managed_businesses");
    let query = [("existing_client_business_id", FLOWERS)];
    for _ in 0..2 {
        let made = graph_post(&base, &managed, &admin, &query).await;
        assert_eq!(
            (made.status, &made.body),
            (200, &json!({"id": FLOWERS, "name": "Demo Flower Studio"}))
        );
    }
    // Another business's admin, or the partner's own token, cannot do it.
    let (coffee_admin, _) = admin_token(&base, COFFEE, COFFEE_ADMIN).await;
    let foreign = graph_post(&base, &managed, &coffee_admin, &query).await;
    assert_error(&foreign, 42004, "(#42004)");
    let by_partner = graph_post(&base, &managed, &partner, &query).await;
    assert_eq!(by_partner.body["error"]["code"], 42004);

    let scope = "business_management,pages_show_list,pages_read_engagement";
    let bare = answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0/{FLOWERS}/access_token"))
            .bearer_auth(&partner)
            .query(&[("scope", scope), ("app_id", APP)]),
    )
    .await;
    assert_error(
        &bare,
        100,
        "API calls from the server require an appsecret_proof argument",
    );
    let created = client_token(&base, &partner, FLOWERS, scope).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let su_token = text(&created.body["access_token"]).to_owned();
    let me = graph_get(&base, "/me", &su_token, &[]).await;
    assert_eq!(me.body["name"], "Demo Flower Studio SYSTEM USER");
    let su = text(&me.body["id"]).to_owned();
    let again = client_token(&base, &partner, FLOWERS, scope).await;
    let again = text(&again.body["access_token"]).to_owned();
    assert_eq!(
        graph_get(&base, "/me", &again, &[]).await.body["id"],
        su.as_str()
    );
    let too_much = client_token(&base, &partner, FLOWERS, "pages_manage_posts").await;
    assert_error(&too_much, 200, "(#200)");
    let cbi = graph_get(&base, "/me", &su_token, &[("fields", "client_business_id")]).await;
    assert_eq!(cbi.body["error"]["code"], 190);

    // No role yet: no pages, and a page's token is refused.
    let none = graph_get(&base, "/me/accounts", &su_token, &[]).await;
    assert_eq!(none.body["data"], json!([]));
    let refused = graph_get(
        &base,
        &format!("/{}", FLOWER_PAGES[0]),
        &su_token,
        &[("fields", "access_token")],
    )
    .await;
    assert_eq!(refused.body["error"]["code"], 200);

    // The admin assigns the assets.
    let assign = |asset: &str, tasks: &str| {
        let (base, admin, su) = (base.clone(), admin.clone(), su.clone());
        let path = format!("/{asset}/assigned_users");
        let tasks = tasks.to_owned();
        async move { graph_post(&base, &path, &admin, &[("user", &su), ("tasks", &tasks)]).await }
    };
    for page in FLOWER_PAGES {
        let done = assign(page, "MANAGE,CREATE_CONTENT").await;
        assert_eq!(done.body, json!({"success": true}));
    }
    assert_eq!(
        assign(FLOWER_CATALOG, "[\"MANAGE\",\"MANAGE_AR\"]")
            .await
            .status,
        200
    );
    assert_eq!(
        assign(FLOWER_AD_ACCOUNT, "['ADVERTISE','DRAFT']")
            .await
            .status,
        200
    );
    assert_eq!(assign("9200000000000003", "ANALYZE").await.status, 200);
    let wrong_task = assign(FLOWER_CATALOG, "MODERATE").await;
    assert_error(&wrong_task, 100, "(#100) Param tasks[0] must be one of");
    let page_task_on_ads = assign(FLOWER_AD_ACCOUNT, "MANAGE,MESSAGING").await;
    assert_error(&page_task_on_ads, 100, "(#100) Param tasks[1]");
    let pixel = assign(FLOWER_PIXEL, "MANAGE").await;
    assert_error(&pixel, 100, "Unsupported post request");
    let by_su = graph_post(
        &base,
        &format!("/{}/assigned_users", FLOWER_PAGES[0]),
        &su_token,
        &[("user", &su), ("tasks", "MANAGE")],
    )
    .await;
    assert_eq!(by_su.body["error"]["code"], 200);

    // Pages it has a role on, two at a time, each with a stable page token.
    let first = graph_get(&base, "/me/accounts", &su_token, &[("limit", "2")]).await;
    let data = first.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["tasks"], json!(["MANAGE", "CREATE_CONTENT"]));
    assert_eq!(data[0]["category"], "Local business");
    let after = text(&first.body["paging"]["cursors"]["after"]).to_owned();
    assert!(first.body["paging"]["next"].is_string());
    let second = graph_get(
        &base,
        "/me/accounts",
        &su_token,
        &[("limit", "2"), ("after", &after)],
    )
    .await;
    let next_url = url::Url::parse(text(&first.body["paging"]["next"])).unwrap();
    let next_after = next_url
        .query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let via_next = graph_get(
        &base,
        "/me/accounts",
        &su_token,
        &[("limit", "2"), ("after", &next_after)],
    )
    .await;
    assert_eq!(via_next.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(via_next.body["data"][0]["id"], FLOWER_PAGES[2]);
    assert!(via_next.body["paging"].get("next").is_none());
    assert_ne!(second.body["data"][0]["id"], data[0]["id"]);
    let page_token = text(&data[0]["access_token"]).to_owned();
    let direct = graph_get(
        &base,
        &format!("/{}", FLOWER_PAGES[0]),
        &su_token,
        &[("fields", "access_token")],
    )
    .await;
    assert_eq!(direct.body["access_token"], page_token.as_str());
    assert_eq!(
        debug_token(&base, &app_token(), &page_token).await.body["data"]["expires_at"],
        0
    );

    let state = get_json(&base, "/_emulator/state").await;
    assert!(
        state["managed_businesses"]
            .as_array()
            .unwrap()
            .contains(&json!({"partner_business_id": PARTNER_BM, "client_business_id": FLOWERS}))
    );

    // Removal: the partner's system user token, its page tokens, all dead.
    let removed = graph_delete(&base, &managed, &partner, &query).await;
    assert_eq!(
        (removed.status, &removed.body),
        (200, &json!({"success": true}))
    );
    for token in [&su_token, &again, &page_token] {
        let call = graph_get(&base, "/me", token, &[]).await;
        assert_eq!(call.body["error"]["code"], 190, "{}", call.body);
        let debug = debug_token(&base, &app_token(), token).await;
        assert_eq!(debug.body["data"]["is_valid"], false);
    }
    let state = get_json(&base, "/_emulator/state").await;
    assert_eq!(state["managed_businesses"], json!([]));
    let after_removal = client_token(&base, &partner, FLOWERS, scope).await;
    assert_error(&after_removal, 200, "(#200)");
    // Removing it again is harmless; the admin's own token lives on.
    let twice = graph_delete(&base, &managed, &partner, &query).await;
    assert_eq!(twice.body, json!({"success": true}));
    assert_eq!(graph_get(&base, "/me", &admin, &[]).await.status, 200);
}

#[tokio::test]
async fn the_relationship_can_fail_with_42004_on_demand() {
    let base = emulator().await;
    let (admin, _) = admin_token(&base, COFFEE, COFFEE_ADMIN).await;
    let fault = control(
        &base,
        "/_emulator/faults",
        json!({"path": "/*/managed_businesses", "method": "POST", "error": {"code": 42004, "message": "(#42004) Injected"}}),
    )
    .await;
    assert_eq!(fault.status, 204);
    let path = format!("/{PARTNER_BM}/managed_businesses");
    let query = [("existing_client_business_id", COFFEE)];
    let failed = graph_post(&base, &path, &admin, &query).await;
    assert_error(&failed, 42004, "(#42004) Injected");
    let state = get_json(&base, "/_emulator/state").await;
    assert_eq!(state["managed_businesses"], json!([]));
    let made = graph_post(&base, &path, &admin, &query).await;
    assert_eq!(made.body["id"], COFFEE);
    // The partner business in the path must own the app.
    let elsewhere = graph_post(
        &base,
        "/3000000000000002/managed_businesses",
        &admin,
        &query,
    )
    .await;
    assert_eq!(elsewhere.body["error"]["code"], 42004);
}

#[tokio::test]
async fn the_consent_page_and_the_sdk_log_an_admin_in_for_on_behalf_of() {
    let base = emulator().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "http://127.0.0.1:9/oauth/callback";
    let dialog = |config: &str| {
        format!(
            "{base}/v25.0/dialog/oauth?client_id={APP}&config_id={config}&redirect_uri={}&state=s1&response_type=code",
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        )
    };
    let page = client.get(dialog(OBO_CONFIG)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"admin\""), "{html}");
    assert!(html.contains(&format!("{FLOWERS}:{FLOWERS_ADMIN}")));
    assert!(
        !html.contains(PARTNER_BM),
        "the partner's own business is not offered"
    );
    // The BISU consent page still asks for a business.
    let bisu_page = client
        .get(dialog("2000000000000001"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bisu_page.contains("name=\"business_id\"") && !bisu_page.contains("name=\"admin\""));

    let decided = client
        .post(format!("{base}/_emulator/dialog/decide"))
        .form(&[
            ("client_id", APP),
            ("config_id", OBO_CONFIG),
            ("redirect_uri", redirect),
            ("state", "s1"),
            ("admin", &format!("{FLOWERS}:{FLOWERS_ADMIN}")),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert!(decided.status().is_redirection());
    let location = url::Url::parse(decided.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let exchanged = answer(
        reqwest::Client::new()
            .get(format!("{base}/v25.0/oauth/access_token"))
            .query(&[
                ("client_id", APP),
                ("client_secret", SECRET),
                ("redirect_uri", redirect),
                ("code", &code),
            ]),
    )
    .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    assert!(exchanged.body["expires_in"].as_u64().unwrap() >= 59 * 24 * 3600);
    let token = text(&exchanged.body["access_token"]);
    let me = graph_get(&base, "/me", token, &[]).await;
    assert_eq!(me.body["id"], FLOWERS_ADMIN);

    // A user who is not an admin of that business cannot be picked.
    let stranger = client
        .post(format!("{base}/_emulator/dialog/decide"))
        .form(&[
            ("client_id", APP),
            ("config_id", OBO_CONFIG),
            ("redirect_uri", redirect),
            ("business_id", FLOWERS),
            ("user_id", COFFEE_ADMIN),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status().as_u16(), 400);

    // FB.login's stand-in: the choices, then a code for the admin chosen (no redirect URI).
    let sdk = |body: Value| {
        let base = base.clone();
        async move {
            answer(
                reqwest::Client::new()
                    .post(format!("{base}/_emulator/sdk/login"))
                    .json(&body),
            )
            .await
        }
    };
    let choices = sdk(json!({"app_id": APP, "config_id": OBO_CONFIG, "choices": true})).await;
    assert_eq!(choices.body["kind"], "user");
    assert!(
        choices.body["choices"]
            .as_array()
            .unwrap()
            .contains(&json!({
        "business_id": COFFEE, "business_name": "Demo Coffee Roasters",
        "user_id": COFFEE_ADMIN, "user_name": "Ada Demo"}))
    );
    let bisu_choices =
        sdk(json!({"app_id": APP, "config_id": "2000000000000001", "choices": true})).await;
    assert_eq!(bisu_choices.body, json!({"kind": "bisu", "choices": []}));
    let login = sdk(json!({"app_id": APP, "config_id": OBO_CONFIG, "business_id": COFFEE})).await;
    assert_eq!(login.body["user_id"], COFFEE_ADMIN);
    let exchanged = answer(
        reqwest::Client::new()
            .get(format!("{base}/v25.0/oauth/access_token"))
            .query(&[
                ("client_id", APP),
                ("client_secret", SECRET),
                ("code", text(&login.body["code"])),
            ]),
    )
    .await;
    let token = text(&exchanged.body["access_token"]);
    assert_eq!(
        graph_get(&base, "/me", token, &[]).await.body["id"],
        COFFEE_ADMIN
    );
    let script = answer(reqwest::Client::new().get(format!("{base}/sdk.js"))).await;
    assert!(text(&script.body).contains("/dialog/oauth?"));
}

#[tokio::test]
async fn control_routes_shape_businesses_roles_and_system_users() {
    let base = emulator().await;
    let made = control(
        &base,
        "/_emulator/businesses",
        json!({"name": "Shop", "pages": 2, "catalogs": 1, "ad_accounts": 1}),
    )
    .await;
    let business = text(&made.body["id"]).to_owned();
    assert_eq!(made.body["pages"].as_array().unwrap().len(), 2);
    assert!(text(&made.body["ad_accounts"][0]["id"]).starts_with("act_"));
    let admin_id = text(&made.body["admins"][0]["id"]).to_owned();
    let user = control(
        &base,
        "/_emulator/user-token",
        json!({"business_id": business}),
    )
    .await;
    assert_eq!(user.body["user_id"], admin_id.as_str());
    assert_eq!(user.body["expires_in"], 5_184_000);

    let partner = partner_token(&base).await;
    let admin = text(&user.body["access_token"]).to_owned();
    let path = format!("/{PARTNER_BM}/managed_businesses");
    graph_post(
        &base,
        &path,
        &admin,
        &[("existing_client_business_id", &business)],
    )
    .await;
    let su_token = client_token(&base, &partner, &business, "business_management").await;
    let su_token = text(&su_token.body["access_token"]).to_owned();
    let su = text(&graph_get(&base, "/me", &su_token, &[]).await.body["id"]).to_owned();
    let page = text(&made.body["pages"][0]["id"]).to_owned();
    let assigned = control(
        &base,
        &format!("/_emulator/assets/{page}/assign"),
        json!({"user": su, "tasks": ["MANAGE"]}),
    )
    .await;
    assert_eq!(assigned.status, 204);
    let page_token = graph_get(
        &base,
        &format!("/{page}"),
        &su_token,
        &[("fields", "access_token")],
    )
    .await
    .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let unassigned = control(
        &base,
        &format!("/_emulator/assets/{page}/unassign"),
        json!({"user": su}),
    )
    .await;
    assert_eq!(unassigned.body, json!({"removed": true}));
    assert_eq!(inspect(&base, &page_token).await["valid"], false);
    assert_eq!(inspect(&base, &su_token).await["valid"], true);

    let deleted = answer(reqwest::Client::new().delete(format!(
        "{base}/_emulator/businesses/{business}/system-users/{su}"
    )))
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let seen = inspect(&base, &su_token).await;
    assert_eq!(
        (&seen["valid"], &seen["invalid_subcode"]),
        (&json!(false), &json!(460))
    );
    assert_eq!(seen["obo_partner_business_id"], PARTNER_BM);
    let missing = control(
        &base,
        "/_emulator/businesses/1/settings",
        json!({"requires_expiring_tokens": true}),
    )
    .await;
    assert_eq!(missing.status, 404);
    let typo = control(
        &base,
        &format!("/_emulator/businesses/{business}/settings"),
        json!({"requires_expiring_token": true}),
    )
    .await;
    assert_eq!(typo.status, 422);
}
