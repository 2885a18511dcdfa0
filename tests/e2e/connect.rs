//! The hosted Connect flow: a customer authorizes utility data sharing in a
//! real headless Chromium, and HTTP-level checks of what a browser cannot
//! show: single-use links bound to one browser, forged form posts, expiry,
//! revocation and tenant isolation. Utility data comes from the built-in
//! simulated utility.

use std::time::Duration;

use gridhub_api::config::ServerConfig;
use gridhub_api::utility::simulated::SimulatedUtility;
use gridhub_api::utility::{AuthorizedAccount, UtilityDataSource};
use gridhub_tests::browser::Browser;
use gridhub_tests::connect_customer::{location, Customer};
use gridhub_tests::partner_site::PartnerSite;
use gridhub_tests::webhook_receiver::WebhookReceiver;
use gridhub_tests::ws_client::WsClient;
use gridhub_tests::TestServer;
use reqwest::header::SET_COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};

const CREATE: &str = "mutation($in: ConnectSessionInput!, $p: ID, $k: String) { createConnectSession(input: $in, partnerId: $p, idempotencyKey: $k) { url session { id status step expiresAt utilities scopes } } }";
const SESSION: &str = "query($id: ID!) { connectSession(id: $id) { id status step abandonReason utility lookupFailures openedAt finishedAt customerReference authorization { id status utility accountNumber customerName customerEmail scopes consentText consentSha256 ipAddress userAgent grantedAt expiresAt endedAt endedBy endReason meters { id externalId kind region utility loadZone customerClass utilityAccountNumber utilityServiceId authorizationStatus serviceAddress { line1 city state postalCode } } } } }";
const METER: &str = "query($id: ID!) { meter(id: $id) { id authorizationStatus authorization { id status } utilityDataSync { syncedThrough lastSyncedAt failedAttempts } intervalSeries { source readingCount } } }";
const ENROLL: &str = "mutation($p: ID!, $in: [EnrollmentInput!]!) { enrollMeters(programId: $p, inputs: $in) { enrollments { id status reasons { code action } } } }";
const ENROLLMENT: &str =
    "query($id: ID!) { enrollment(id: $id) { status reasons { code action } } }";
const REVOKE: &str = "mutation($id: ID!, $r: String) { revokeUtilityAuthorization(id: $id, reason: $r) { id status endedBy endReason meters { id } } }";
const WEBHOOK: &str =
    "mutation($in: WebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret } }";
const NOTICES: &str = "subscription { connectSessionEvents { kind sessionId sessionStatus step abandonReason customerReference authorizationId authorizationStatus meterIds } }";

/// Fast background loops: utility data fetched at once, two days of history.
fn fast(c: &mut ServerConfig) {
    c.connect.sync_poll = Duration::from_millis(200);
    c.connect.sweep_interval = Duration::from_millis(200);
    c.connect.backfill_days = 2;
    c.webhooks.poll_interval = Duration::from_millis(50);
}

async fn create(s: &TestServer, key: &str, input: Value) -> (String, String) {
    let data = s.ok(key, CREATE, json!({ "in": input })).await;
    let c = &data["createConnectSession"];
    (
        c["session"]["id"].as_str().unwrap().to_owned(),
        c["url"].as_str().unwrap().to_owned(),
    )
}

async fn session(s: &TestServer, key: &str, id: &str) -> Value {
    s.ok(key, SESSION, json!({ "id": id })).await["connectSession"].clone()
}

async fn subscribe(s: &TestServer, key: &str) -> WsClient {
    let mut c = WsClient::connect(&s.base, "graphql-transport-ws").await;
    c.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } }))
        .await;
    assert_eq!(c.next_json().await["type"], "connection_ack");
    c.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": NOTICES } }))
        .await;
    // Time for the subscription to be registered (generous: CI machines are busy).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    c
}

async fn notice(c: &mut WsClient) -> Value {
    let m = c.next_json().await;
    assert_eq!(m["type"], "next", "{m}");
    m["payload"]["data"]["connectSessionEvents"].clone()
}

async fn webhook(s: &TestServer, key: &str) -> WebhookReceiver {
    let receiver = WebhookReceiver::start(0).await;
    let data = s
        .ok(
            key,
            WEBHOOK,
            json!({ "in": { "url": receiver.url, "eventTypes": ["CONNECT_SESSION_COMPLETED", "CONNECT_SESSION_ABANDONED", "CONNECT_SESSION_EXPIRED", "AUTHORIZATION_REVOKED", "AUTHORIZATION_EXPIRED"] } }),
        )
        .await;
    receiver.set_secret(data["createWebhookEndpoint"]["secret"].as_str().unwrap());
    receiver
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn dram_id(s: &TestServer) -> String {
    let programs = s
        .ok(&s.admin_key, "{ programs { id code } }", json!({}))
        .await;
    programs["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "CAISO_DRAM")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_customer_authorizes_utility_data_in_a_real_browser() {
    let s = TestServer::start_with(fast).await;
    let (_, key) = s.partner("Volt & Sons Energy").await;
    let site = PartnerSite::start().await;
    let hooks = webhook(&s, &key).await;
    let mut notices = subscribe(&s, &key).await;
    let (sid, url) = create(
        &s,
        &key,
        json!({ "returnUrl": site.return_url, "returnState": "csrf-123", "customerReference": "cust-42", "utilities": ["PGE", "SCE", "SDGE"] }),
    )
    .await;
    assert!(
        url.starts_with(&format!("{}/connect/gct_", s.base)),
        "{url}"
    );

    let browser = Browser::start().await;
    browser.goto(&url).await;
    // The token leaves the address bar at once; the flow is bound to this browser.
    assert_eq!(browser.url().await, s.url(&format!("/connect/s/{sid}")));
    assert!(browser
        .title()
        .await
        .starts_with("Step 1 of 3: Choose your utility"));
    assert_eq!(session(&s, &key, &sid).await["status"], "OPENED");
    let cookie = &browser.cookies().await[0];
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Lax");
    let source = browser.source().await;
    assert!(
        source.contains("Volt &amp; Sons Energy"),
        "partner name, escaped"
    );
    assert!(source.contains("<html lang=\"en\">"));
    assert!(!source.contains("<script"), "no scripts");
    assert_accessible(&browser).await;
    // Only the utilities the partner asked for.
    assert_eq!(browser.find_all("input[type=radio]").await.len(), 3);

    // Step 1: continuing without a choice is an error, announced and linked.
    browser
        .click_and_wait(&browser.find("form[action$='/utility'] button").await)
        .await;
    let title = browser.title().await;
    assert!(
        title.starts_with("Error: Step 1 of 3"),
        "{title} {}",
        browser.url().await
    );
    let summary = browser.find(".error-summary").await;
    assert_eq!(browser.role(&summary).await, "alert");
    assert!(browser.text(&summary).await.contains("Choose your utility"));
    browser
        .click(&browser.find("label[for=utility-first]").await)
        .await;
    browser
        .click_and_wait(&browser.find("form[action$='/utility'] button").await)
        .await;

    // Step 2: an unknown account, then the right one (spaces are fine).
    assert!(browser
        .title()
        .await
        .starts_with("Step 2 of 3: Your utility account"));
    assert!(browser.source().await.contains("Pacific Gas and Electric"));
    assert_accessible(&browser).await;
    let account = browser.find("#accountNumber").await;
    browser.type_into(&account, "1234560000").await;
    browser
        .type_into(&browser.find("#postalCode").await, "94110")
        .await;
    browser
        .click_and_wait(&browser.find("form[action$='/account'] button").await)
        .await;
    assert!(browser.title().await.starts_with("Error: Step 2 of 3"));
    let account = browser.find("#accountNumber").await;
    assert_eq!(
        browser.attribute(&account, "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        browser
            .attribute(&account, "aria-describedby")
            .await
            .as_deref(),
        Some("accountNumber-hint accountNumber-error")
    );
    assert!(browser
        .text(&browser.find("#accountNumber-error").await)
        .await
        .contains("has no account"));
    assert_eq!(
        browser.attribute(&account, "value").await.as_deref(),
        Some("1234560000"),
        "kept what was typed"
    );
    browser.type_into(&account, "1234 5678 92").await;
    browser
        .click_and_wait(&browser.find("form[action$='/account'] button").await)
        .await;

    // Step 3: review (last digit 2 → three service points) and consent.
    assert!(
        browser
            .title()
            .await
            .starts_with("Step 3 of 3: Review and authorize"),
        "{}",
        browser.title().await
    );
    let page = browser.source().await;
    assert!(page.contains("••••7892"));
    for n in 1..=3 {
        assert!(
            page.contains(&format!("1234567892-{n}")),
            "service point {n}"
        );
    }
    assert_accessible(&browser).await;
    browser
        .type_into(&browser.find("#name").await, "Ana Lopez")
        .await;
    browser
        .type_into(&browser.find("#email").await, "ana@example.com")
        .await;
    browser
        .click_and_wait(&browser.find("form[action$='/consent'] button").await)
        .await;
    assert!(
        browser.title().await.starts_with("Error: Step 3 of 3"),
        "consent is required"
    );
    assert!(browser.source().await.contains("Tick the box"));
    assert_eq!(
        browser
            .attribute(&browser.find("#name").await, "value")
            .await
            .as_deref(),
        Some("Ana Lopez")
    );
    browser.click(&browser.find("#agree").await).await;
    browser
        .click_and_wait(&browser.find("form[action$='/consent'] button").await)
        .await;

    // Back at the partner, with the session's result.
    let landed = browser.url().await;
    assert!(landed.starts_with(&site.return_url), "{landed}");
    assert_eq!(browser.title().await, "Back at the partner");
    let visit = site.visits().pop().expect("the return URL was visited");
    assert_eq!(visit["sessionId"], sid);
    assert_eq!(visit["status"], "COMPLETED");
    assert_eq!(visit["state"], "csrf-123");

    // The consent record and the meters.
    let done = session(&s, &key, &sid).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["customerReference"], "cust-42");
    assert_eq!(done["lookupFailures"], 1);
    let auth = &done["authorization"];
    assert_eq!(auth["status"], "AUTHORIZED");
    assert_eq!(auth["utility"], "PGE");
    assert_eq!(auth["accountNumber"], "1234567892");
    assert_eq!(auth["customerName"], "Ana Lopez");
    assert_eq!(auth["customerEmail"], "ana@example.com");
    assert_eq!(auth["scopes"], json!(["ACCOUNT_DETAILS", "INTERVAL_USAGE"]));
    assert_eq!(auth["ipAddress"], "127.0.0.1");
    assert!(auth["userAgent"].as_str().unwrap().contains("Chrome"));
    let text = auth["consentText"].as_str().unwrap();
    assert!(
        text.contains("Volt & Sons Energy") && text.contains("365 days"),
        "{text}"
    );
    assert!(
        page.contains(&text.replace('&', "&amp;")),
        "the stored consent is the one shown"
    );
    let granted =
        chrono::DateTime::parse_from_rfc3339(auth["grantedAt"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(auth["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - granted).num_days(), 365);
    let meters = auth["meters"].as_array().unwrap();
    assert_eq!(meters.len(), 3);
    for (i, m) in meters.iter().enumerate() {
        assert_eq!(m["authorizationStatus"], "AUTHORIZED");
        assert_eq!(m["kind"], "UTILITY_METER");
        assert_eq!(m["region"], "CA");
        assert_eq!(m["loadZone"], "DLAP_PGAE");
        assert_eq!(m["customerClass"], "RESIDENTIAL");
        assert_eq!(m["utilityAccountNumber"], "1234567892");
        assert_eq!(m["utilityServiceId"], format!("1234567892-{}", i + 1));
        assert_eq!(m["externalId"], format!("connect:PGE:1234567892-{}", i + 1));
        assert_eq!(m["serviceAddress"]["postalCode"], "94110");
    }

    // Told on the subscription and by a signed webhook.
    let n = notice(&mut notices).await;
    assert_eq!(n["kind"], "CONNECT_SESSION_COMPLETED");
    assert_eq!(n["sessionId"], sid);
    assert_eq!(n["customerReference"], "cust-42");
    assert_eq!(n["authorizationStatus"], "AUTHORIZED");
    assert_eq!(n["meterIds"].as_array().unwrap().len(), 3);
    hooks
        .wait_for("the completion webhook", |r| !r.accepted.is_empty())
        .await;
    hooks.with(|r| {
        assert_eq!(r.bad_signatures, 0);
        assert_eq!(r.accepted[0].1["type"], "CONNECT_SESSION_COMPLETED");
        assert_eq!(r.accepted[0].1["data"]["session"]["id"], sid);
        assert_eq!(
            r.accepted[0].1["data"]["authorization"]["accountNumber"],
            "••••7892"
        );
    });

    // The link is spent: opening it again shows the outcome, nothing more.
    browser.goto(&url).await;
    assert_eq!(browser.title().await, "Your utility account is connected");
    browser.quit().await;

    // Utility data arrives for the meters: two days of 15-minute readings,
    // the simulated utility's values.
    let meter_id = meters[0]["id"].as_str().unwrap().to_owned();
    wait_until("utility readings", || async {
        let m = s.ok(&key, METER, json!({ "id": meter_id })).await;
        m["meter"]["intervalSeries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["source"] == "UTILITY" && x["readingCount"].as_i64().unwrap() >= 190)
    })
    .await;
    let m = s.ok(&key, METER, json!({ "id": meter_id })).await["meter"].clone();
    assert!(m["utilityDataSync"]["lastSyncedAt"].is_string());
    let through = chrono::DateTime::parse_from_rfc3339(
        m["utilityDataSync"]["syncedThrough"].as_str().unwrap(),
    )
    .unwrap()
    .timestamp();
    let readings = s
        .ok(
            &key,
            "query($m: ID!, $f: DateTime!, $t: DateTime!) { intervalReadings(meterId: $m, from: $f, to: $t, source: UTILITY) { start kwh } }",
            json!({ "m": meter_id, "f": chrono::DateTime::from_timestamp(through - 3600, 0).unwrap().to_rfc3339(), "t": chrono::DateTime::from_timestamp(through, 0).unwrap().to_rfc3339() }),
        )
        .await;
    let got: Vec<f64> = readings["intervalReadings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kwh"].as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = SimulatedUtility
        .readings(
            &AuthorizedAccount {
                authorization_id: "x".into(),
                utility: "PGE".into(),
                account_number: "1234567892".into(),
                expires_at: chrono::Utc::now() + chrono::Duration::days(1),
            },
            "1234567892-1",
            through - 3600,
            through,
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.kwh)
        .collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got, expected);
    s.shutdown().await;
}

/// Every control of the page has an accessible name; one `h1`; a skip link.
async fn assert_accessible(browser: &Browser) {
    for control in browser
        .find_all("input:not([type=hidden]), button, select, textarea, a")
        .await
    {
        let name = browser.accessible_name(&control).await;
        assert!(
            !name.trim().is_empty(),
            "a control without an accessible name on {}",
            browser.url().await
        );
    }
    assert_eq!(browser.find_all("h1").await.len(), 1);
    assert_eq!(browser.find_all("main#main").await.len(), 1);
    let skip = browser.find("a.skip").await;
    assert_eq!(
        browser.attribute(&skip, "href").await.as_deref(),
        Some("#main")
    );
    for group in browser.find_all("fieldset").await {
        assert!(
            !browser.accessible_name(&group).await.is_empty(),
            "fieldset without legend"
        );
    }
}

type Forged<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<&'a str>, bool);

/// Drives a whole session over HTTP; returns (session id, return location).
async fn complete(
    s: &TestServer,
    key: &str,
    return_url: &str,
    account: &str,
    utility: &str,
) -> (String, String) {
    let (sid, url) = create(
        s,
        key,
        json!({ "returnUrl": return_url, "utilities": [utility] }),
    )
    .await;
    let mut c = Customer::new(&s.base);
    assert_eq!(c.get(&url).await.status(), StatusCode::SEE_OTHER);
    let csrf = c.csrf(&sid).await;
    let zip = match utility {
        "CONED" => "10001",
        _ => "94110",
    };
    let r = c
        .post(
            &format!("/connect/s/{sid}/account"),
            &[
                ("csrf", &csrf),
                ("accountNumber", account),
                ("postalCode", zip),
            ],
            None,
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let r = c
        .post(
            &format!("/connect/s/{sid}/consent"),
            &[
                ("csrf", &csrf),
                ("name", "Sam Lee"),
                ("email", "sam@example.com"),
                ("agree", "yes"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    (sid, location(&r))
}

#[tokio::test]
async fn links_are_single_use_unguessable_and_bound_to_one_browser() {
    let s = TestServer::start_with(fast).await;
    let (_, key) = s.partner("Volt").await;
    let input = json!({ "returnUrl": "https://volt.example/back", "utilities": ["CONED"] });
    let (sid, url) = create(&s, &key, input.clone()).await;
    let (_, other_url) = create(&s, &key, input).await;
    let token = url.rsplit('/').next().unwrap();
    assert!(token.starts_with("gct_"));
    assert_eq!(token.len(), 4 + 43, "256 random bits, base64url");
    assert_ne!(url, other_url);
    let created = session(&s, &key, &sid).await;
    assert_eq!(created["status"], "CREATED");
    assert_eq!(created["step"], "ACCOUNT", "one utility: no utility step");

    let mut first = Customer::new(&s.base);
    let r = first.get(&url).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/connect/s/{sid}"));
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/connect", "Max-Age="] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert_eq!(r.headers()["referrer-policy"], "same-origin");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = first.get(&format!("/connect/s/{sid}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("form-action 'self' https://volt.example"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("Consolidated Edison"));
    assert_eq!(session(&s, &key, &sid).await["status"], "OPENED");

    // The same link in another browser: used.
    let mut second = Customer::new(&s.base);
    let r = second.get(&url).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(r.text().await.unwrap().contains("already been used"));
    assert!(second.cookie.is_none());
    // The flow's own address without the cookie: refused too.
    assert_eq!(
        second.get(&format!("/connect/s/{sid}")).await.status(),
        StatusCode::GONE
    );
    // The first browser may reopen its link (resume) and gets no new cookie.
    let before = first.cookie.clone();
    let r = first.get(&url).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert_eq!(first.cookie, before);

    // Unknown and malformed tokens.
    let mut stranger = Customer::new(&s.base);
    let mut guessed = token.to_owned();
    guessed.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
    for bad in [
        format!("/connect/{guessed}"),
        "/connect/gct_x".into(),
        "/connect/nonsense".into(),
    ] {
        let r = stranger.get(&bad).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        assert!(r.text().await.unwrap().contains("This link is not valid"));
    }

    // Completed: the link (and the flow) only show the outcome.
    let csrf = first.csrf(&sid).await;
    first
        .post(
            &format!("/connect/s/{sid}/account"),
            &[
                ("csrf", &csrf),
                ("accountNumber", "5550001231"),
                ("postalCode", "10001"),
            ],
            None,
        )
        .await;
    let consent = [
        ("csrf", csrf.as_str()),
        ("name", "Kim"),
        ("email", "kim@example.com"),
        ("agree", "yes"),
    ];
    let consent_path = format!("/connect/s/{sid}/consent");
    let r = first.post(&consent_path, &consent, None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("https://volt.example/back?sessionId="));
    // The same consent again (a double click): the outcome page, nothing new.
    let again = first.post(&consent_path, &consent, None).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("Your utility account is connected"));
    let done = session(&s, &key, &sid).await;
    assert_eq!(
        done["authorization"]["meters"].as_array().unwrap().len(),
        2,
        "last digit 1 → two meters, once"
    );
    assert_eq!(first.get(&url).await.status(), StatusCode::OK);
    assert_eq!(second.get(&url).await.status(), StatusCode::OK);
    s.shutdown().await;
}

#[tokio::test]
async fn forged_form_posts_change_nothing() {
    let s = TestServer::start().await;
    let (_, key) = s.partner("Volt").await;
    let (sid, url) = create(
        &s,
        &key,
        json!({ "returnUrl": "https://volt.example/back" }),
    )
    .await;
    let (other_sid, other_url) = create(
        &s,
        &key,
        json!({ "returnUrl": "https://volt.example/back" }),
    )
    .await;
    let mut c = Customer::new(&s.base);
    c.get(&url).await;
    let csrf = c.csrf(&sid).await;
    let mut other = Customer::new(&s.base);
    other.get(&other_url).await;
    let other_csrf = other.csrf(&other_sid).await;
    let path = format!("/connect/s/{sid}/utility");
    let own_origin = s.base.clone();

    // (what, form fields, Origin header, sent with the flow cookie)
    let forged: Vec<Forged> = vec![
        ("no CSRF value", vec![("utility", "PGE")], None, true),
        (
            "a wrong CSRF value",
            vec![("csrf", "0000"), ("utility", "PGE")],
            None,
            true,
        ),
        (
            "another session's CSRF value",
            vec![("csrf", &other_csrf), ("utility", "PGE")],
            None,
            true,
        ),
        (
            "another site's origin",
            vec![("csrf", &csrf), ("utility", "PGE")],
            Some("https://evil.example"),
            true,
        ),
        (
            "no cookie",
            vec![("csrf", &csrf), ("utility", "PGE")],
            None,
            false,
        ),
    ];
    let cookieless = Customer::new(&s.base);
    for (what, fields, origin, with_cookie) in forged {
        let who = if with_cookie { &c } else { &cookieless };
        let r = who.post(&path, &fields, origin).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
        assert!(
            r.text().await.unwrap().contains("could not verify"),
            "{what}"
        );
    }
    // Cancel is a form too.
    let r = cookieless
        .post(
            &format!("/connect/s/{sid}/cancel"),
            &[("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let unchanged = session(&s, &key, &sid).await;
    assert_eq!(unchanged["status"], "OPENED");
    assert_eq!(unchanged["step"], "UTILITY");
    assert!(unchanged["utility"].is_null());

    // The genuine post, from our own origin.
    let r = c
        .post(
            &path,
            &[("csrf", &csrf), ("utility", "PGE")],
            Some(&own_origin),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let moved = session(&s, &key, &sid).await;
    assert_eq!(
        (moved["step"].as_str(), moved["utility"].as_str()),
        (Some("ACCOUNT"), Some("PGE"))
    );
    // A utility outside the offer is a form error, not a change.
    let (limited, limited_url) = create(
        &s,
        &key,
        json!({ "returnUrl": "https://volt.example/back", "utilities": ["SCE", "SDGE"] }),
    )
    .await;
    let mut l = Customer::new(&s.base);
    l.get(&limited_url).await;
    let lcsrf = l.csrf(&limited).await;
    let r = l
        .post(
            &format!("/connect/s/{limited}/utility"),
            &[("csrf", &lcsrf), ("utility", "PGE")],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Choose your utility from the list"));
    s.shutdown().await;
}

#[tokio::test]
async fn sessions_expire_and_abandonment_is_announced() {
    let s = TestServer::start_with(fast).await;
    let (_, key) = s.partner("Volt").await;
    let site = PartnerSite::start().await;
    let hooks = webhook(&s, &key).await;
    let mut notices = subscribe(&s, &key).await;
    let input = json!({ "returnUrl": site.return_url, "customerReference": "c-1" });

    // Never opened: EXPIRED by the sweeper, and the link says so.
    let (never, never_url) = create(&s, &key, input.clone()).await;
    s.expire_connect_session(&never).await;
    let n = notice(&mut notices).await;
    assert_eq!(
        (n["kind"].as_str(), n["sessionId"].as_str()),
        (Some("CONNECT_SESSION_EXPIRED"), Some(never.as_str()))
    );
    let mut c = Customer::new(&s.base);
    let r = c.get(&never_url).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(r.text().await.unwrap().contains("This link has expired"));
    assert!(c.cookie.is_none());

    // Opened, then left until it expired: ABANDONED (TIMED_OUT) at the step reached.
    let (left, left_url) = create(&s, &key, input.clone()).await;
    let mut c = Customer::new(&s.base);
    c.get(&left_url).await;
    let csrf = c.csrf(&left).await;
    c.post(
        &format!("/connect/s/{left}/utility"),
        &[("csrf", &csrf), ("utility", "CONED")],
        None,
    )
    .await;
    s.expire_connect_session(&left).await;
    let r = c
        .post(
            &format!("/connect/s/{left}/account"),
            &[
                ("csrf", &csrf),
                ("accountNumber", "5550001231"),
                ("postalCode", "10001"),
            ],
            None,
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::GONE,
        "a form after expiry changes nothing"
    );
    let n = notice(&mut notices).await;
    assert_eq!(n["kind"], "CONNECT_SESSION_ABANDONED");
    assert_eq!(
        (n["abandonReason"].as_str(), n["step"].as_str()),
        (Some("TIMED_OUT"), Some("ACCOUNT"))
    );
    let row = session(&s, &key, &left).await;
    assert_eq!(
        (row["status"].as_str(), row["authorization"].is_null()),
        (Some("ABANDONED"), true)
    );

    // Cancelled by the customer: back at the partner with the result.
    let (cancelled, cancel_url) = create(&s, &key, input.clone()).await;
    let mut c = Customer::new(&s.base);
    c.get(&cancel_url).await;
    let csrf = c.csrf(&cancelled).await;
    let r = c
        .post(
            &format!("/connect/s/{cancelled}/cancel"),
            &[("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(
        to.starts_with(&site.return_url)
            && to.contains("status=ABANDONED")
            && to.contains(&cancelled),
        "{to}"
    );
    let n = notice(&mut notices).await;
    assert_eq!(
        (
            n["kind"].as_str(),
            n["abandonReason"].as_str(),
            n["customerReference"].as_str()
        ),
        (
            Some("CONNECT_SESSION_ABANDONED"),
            Some("CUSTOMER_CANCELLED"),
            Some("c-1")
        )
    );

    // Five unknown accounts end the session (guessing is not an option).
    let (guessing, guess_url) = create(
        &s,
        &key,
        json!({ "returnUrl": site.return_url, "utilities": ["CONED"] }),
    )
    .await;
    let mut c = Customer::new(&s.base);
    c.get(&guess_url).await;
    let csrf = c.csrf(&guessing).await;
    for attempt in 1..=5 {
        let number = format!("55500{attempt}0000");
        let r = c
            .post(
                &format!("/connect/s/{guessing}/account"),
                &[
                    ("csrf", &csrf),
                    ("accountNumber", &number),
                    ("postalCode", "10001"),
                ],
                None,
            )
            .await;
        if attempt < 5 {
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        } else {
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert!(location(&r).contains("status=ABANDONED"));
        }
    }
    assert_eq!(
        notice(&mut notices).await["abandonReason"],
        "TOO_MANY_ATTEMPTS"
    );

    hooks
        .wait_for("four webhooks", |r| r.accepted.len() >= 4)
        .await;
    let kinds: Vec<String> = hooks.with(|r| {
        r.accepted
            .iter()
            .map(|(_, b)| b["type"].as_str().unwrap().to_owned())
            .collect()
    });
    assert_eq!(
        kinds,
        [
            "CONNECT_SESSION_EXPIRED",
            "CONNECT_SESSION_ABANDONED",
            "CONNECT_SESSION_ABANDONED",
            "CONNECT_SESSION_ABANDONED"
        ]
    );
    s.shutdown().await;
}

#[tokio::test]
async fn revocation_and_expiry_stop_data_and_mark_enrollments() {
    let s = TestServer::start_with(|c| {
        fast(c);
        c.bundled_plugin_dir = Some(gridhub_tests::plugins_dir());
    })
    .await;
    let (_, key) = s.partner("Volt").await;
    let mut notices = subscribe(&s, &key).await;
    let (sid, _) = complete(&s, &key, "https://volt.example/back", "7770001234", "PGE").await;
    assert_eq!(
        notice(&mut notices).await["kind"],
        "CONNECT_SESSION_COMPLETED"
    );
    let done = session(&s, &key, &sid).await;
    let auth = done["authorization"]["id"].as_str().unwrap().to_owned();
    let meter = done["authorization"]["meters"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        done["authorization"]["meters"].as_array().unwrap().len(),
        2,
        "last digit 4 → two meters"
    );

    // Enrolled in DRAM, which needs the customer's authorization.
    let dram = dram_id(&s).await;
    let enrolled = s
        .ok(
            &key,
            ENROLL,
            json!({ "p": dram, "in": [{ "meterId": meter, "committedKw": 50.0 }] }),
        )
        .await;
    let enrollment = &enrolled["enrollMeters"]["enrollments"][0];
    assert_ne!(enrollment["status"], "INELIGIBLE", "{enrollment}");
    let enrollment_id = enrollment["id"].as_str().unwrap().to_owned();

    let count = |m: Value| -> i64 {
        m["meter"]["intervalSeries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["source"] == "UTILITY")
            .map(|x| x["readingCount"].as_i64().unwrap())
            .sum()
    };
    wait_until("utility readings", || async {
        count(s.ok(&key, METER, json!({ "id": meter })).await) >= 190
    })
    .await;

    // While authorized, the meter keeps the account it was authorized for.
    let err = s
        .err(
            Some(&key),
            "mutation($id: ID!) { updateMeter(id: $id, input: { utilityServiceId: \"9999999-1\" }) { id } }",
            json!({ "id": meter }),
        )
        .await;
    assert_eq!(err.code, "CONFLICT", "{}", err.message);
    let renamed = s
        .ok(
            &key,
            "mutation($id: ID!) { updateMeter(id: $id, input: { externalId: \"home-7\" }) { externalId } }",
            json!({ "id": meter }),
        )
        .await;
    assert_eq!(
        renamed["updateMeter"]["externalId"], "home-7",
        "its own id may change"
    );

    let revoked = s
        .ok(
            &key,
            REVOKE,
            json!({ "id": auth, "r": "customer asked by phone" }),
        )
        .await["revokeUtilityAuthorization"]
        .clone();
    assert_eq!(revoked["status"], "REVOKED");
    assert_eq!(revoked["endReason"], "customer asked by phone");
    assert!(revoked["endedBy"].as_str().unwrap().starts_with("key_"));
    let n = notice(&mut notices).await;
    assert_eq!(
        (n["kind"].as_str(), n["authorizationId"].as_str()),
        (Some("AUTHORIZATION_REVOKED"), Some(auth.as_str()))
    );
    assert_eq!(n["meterIds"].as_array().unwrap().len(), 2);
    let m = s.ok(&key, METER, json!({ "id": meter })).await;
    assert_eq!(m["meter"]["authorizationStatus"], "REVOKED");
    assert!(m["meter"]["utilityDataSync"].is_null(), "no more fetching");
    let readings = count(m);
    assert_eq!(s.services().utility_sync.step().await.unwrap(), 0);
    let e = s.ok(&key, ENROLLMENT, json!({ "id": enrollment_id })).await["enrollment"].clone();
    assert_eq!(e["status"], "INELIGIBLE");
    assert_eq!(e["reasons"][0]["code"], "AUTHORIZATION_REQUIRED");
    assert!(e["reasons"][0]["action"]
        .as_str()
        .unwrap()
        .contains("Connect"));
    assert_eq!(
        s.err(Some(&key), REVOKE, json!({ "id": auth })).await.code,
        "CONFLICT"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        count(s.ok(&key, METER, json!({ "id": meter })).await),
        readings,
        "data stopped"
    );

    // The customer connects again: the same meters (stable ids), authorized
    // again, and the enrollment is eligible again.
    let (again, _) = complete(&s, &key, "https://volt.example/back", "7770001234", "PGE").await;
    let renewed = session(&s, &key, &again).await["authorization"].clone();
    let ids: Vec<&str> = renewed["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], meter);
    assert_eq!(ids.len(), 2);
    let e = s.ok(&key, ENROLLMENT, json!({ "id": enrollment_id })).await["enrollment"].clone();
    assert_ne!(e["status"], "INELIGIBLE", "{e}");
    let old = s
        .ok(
            &key,
            "query($id: ID!) { utilityAuthorization(id: $id) { status meters { id } } }",
            json!({ "id": auth }),
        )
        .await;
    assert_eq!(
        old["utilityAuthorization"]["status"], "REVOKED",
        "history is kept"
    );
    assert_eq!(old["utilityAuthorization"]["meters"], json!([]));

    // Expiry: the sweeper ends it, meters become EXPIRED.
    let renewed_id = renewed["id"].as_str().unwrap().to_owned();
    assert_eq!(
        notice(&mut notices).await["kind"],
        "CONNECT_SESSION_COMPLETED"
    );
    s.expire_authorization(&renewed_id).await;
    let n = notice(&mut notices).await;
    assert_eq!(
        (n["kind"].as_str(), n["authorizationId"].as_str()),
        (Some("AUTHORIZATION_EXPIRED"), Some(renewed_id.as_str()))
    );
    let m = s.ok(&key, METER, json!({ "id": meter })).await;
    assert_eq!(m["meter"]["authorizationStatus"], "EXPIRED");
    assert!(m["meter"]["utilityDataSync"].is_null());
    wait_until("the enrollment re-decided", || async {
        s.ok(&key, ENROLLMENT, json!({ "id": enrollment_id })).await["enrollment"]["status"]
            == "INELIGIBLE"
    })
    .await;
    s.shutdown().await;
}

#[tokio::test]
async fn partners_see_only_their_own_sessions_and_authorizations() {
    let s = TestServer::start_with(fast).await;
    let (_, volt) = s.partner("Volt").await;
    let (acme_id, acme) = s.partner("Acme").await;
    let acme_hooks = webhook(&s, &acme).await;
    let mut acme_notices = subscribe(&s, &acme).await;
    let mut volt_notices = subscribe(&s, &volt).await;
    let (sid, _) = complete(
        &s,
        &volt,
        "https://volt.example/back",
        "5550001232",
        "CONED",
    )
    .await;
    let done = session(&s, &volt, &sid).await;
    let auth = done["authorization"]["id"].as_str().unwrap().to_owned();
    let meter = done["authorization"]["meters"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(notice(&mut volt_notices).await["sessionId"], sid);

    for (query, vars) in [
        (SESSION, json!({ "id": sid })),
        (
            "query($id: ID!) { utilityAuthorization(id: $id) { id } }",
            json!({ "id": auth }),
        ),
        (REVOKE, json!({ "id": auth })),
        (METER, json!({ "id": meter })),
    ] {
        assert_eq!(
            s.err(Some(&acme), query, vars).await.code,
            "NOT_FOUND",
            "{query}"
        );
    }
    let lists = s
        .ok(&acme, "{ connectSessions { edges { node { id } } } utilityAuthorizations { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(lists["connectSessions"]["edges"], json!([]));
    assert_eq!(lists["utilityAuthorizations"]["edges"], json!([]));
    let mine = s
        .ok(&volt, "{ connectSessions { edges { node { id status } } } utilityAuthorizations(filter: { statuses: [AUTHORIZED] }) { edges { node { id meters { id } } } } }", json!({}))
        .await;
    assert_eq!(mine["connectSessions"]["edges"][0]["node"]["id"], sid);
    assert_eq!(
        mine["utilityAuthorizations"]["edges"][0]["node"]["id"],
        auth
    );

    // Opening a session for another partner is an admin's job.
    let err = s
        .err(
            Some(&volt),
            CREATE,
            json!({ "in": { "returnUrl": "https://volt.example/back" }, "p": acme_id }),
        )
        .await;
    assert_eq!(err.code, "FORBIDDEN");
    let analyst = s.key(gridhub_api::domain::Role::Analyst, None).await;
    let err = s
        .err(
            Some(&analyst),
            CREATE,
            json!({ "in": { "returnUrl": "https://volt.example/back" } }),
        )
        .await;
    assert_eq!(err.code, "FORBIDDEN");
    let by_admin = s
        .ok(
            &s.admin_key,
            CREATE,
            json!({ "in": { "returnUrl": "https://acme.example/back" }, "p": acme_id }),
        )
        .await;
    assert!(by_admin["createConnectSession"]["url"].is_string());

    // Acme heard nothing about Volt's customer.
    assert!(matches!(
        acme_notices
            .next_within(Duration::from_millis(800), true)
            .await,
        gridhub_tests::ws_client::Frame::Nothing
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    acme_hooks.with(|r| assert!(r.requests.is_empty()));
    s.shutdown().await;
}

#[tokio::test]
async fn bad_session_requests_are_refused_with_field_errors() {
    let s = TestServer::start().await;
    let (_, key) = s.partner("Volt").await;
    let err = s
        .err(
            Some(&key),
            CREATE,
            json!({ "in": { "returnUrl": "http://volt.example/back", "utilities": ["PGE", "ATLANTIS"], "authorizationDays": 5000, "expiresInMinutes": 1 } }),
        )
        .await;
    assert_eq!(err.code, "VALIDATION");
    let fields: Vec<&str> = err.error["extensions"]["fieldErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "input.returnUrl",
            "input.utilities[1]",
            "input.authorizationDays",
            "input.expiresInMinutes"
        ]
    );
    // Idempotent creation: the same session and link again.
    let vars = json!({ "in": { "returnUrl": "https://volt.example/back" }, "k": "signup-77" });
    let a = s.ok(&key, CREATE, vars.clone()).await;
    let b = s.ok(&key, CREATE, vars).await;
    assert_eq!(a, b);
    let listed = s
        .ok(
            &key,
            "{ connectSessions { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["connectSessions"]["edges"].as_array().unwrap().len(),
        1
    );
    s.shutdown().await;
}
