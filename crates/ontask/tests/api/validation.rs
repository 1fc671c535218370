//! Every kind of bad input gets a precise RFC 9457 answer, and none gets a 5xx.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, spawn_app};

/// [`assert_problem`], saying which input it was about when the status is wrong.
async fn expect_problem(response: reqwest::Response, status: StatusCode, kind: &str, input: &str) -> Value {
    if response.status() != status {
        let got = response.status();
        panic!("{input}: expected {status}, got {got}: {}", response.text().await.unwrap_or_default());
    }
    assert_problem(response, status, kind).await
}

/// POSTs `body` to /tasks and asserts a 422 naming exactly `fields`.
async fn assert_invalid(app: &TestApp, user: &TestUser, body: Value, fields: &[&str]) -> Value {
    let response = app.post("/api/v1/tasks", user).json(&body).send().await.unwrap();
    let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation", &body.to_string()).await;
    let got: Vec<&str> =
        problem["errors"].as_array().expect("an errors list").iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(got, fields, "for {body}: {problem}");
    for e in problem["errors"].as_array().unwrap() {
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    problem
}

#[tokio::test]
async fn each_invalid_field_is_named() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let t = |extra: Value| {
        let mut body = json!({ "title": "ok" });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    assert_invalid(&app, &user, json!({ "title": "" }), &["title"]).await;
    assert_invalid(&app, &user, json!({ "title": "   \t\n " }), &["title"]).await;
    assert_invalid(&app, &user, json!({}), &["title"]).await;
    assert_invalid(&app, &user, json!({ "title": "x".repeat(501) }), &["title"]).await;
    // The limit counts characters, not bytes.
    app.create_task(&user, json!({ "title": "é".repeat(500) })).await;
    app.create_task(&user, json!({ "title": format!("  {}  ", "x".repeat(500)) })).await;
    assert_invalid(&app, &user, t(json!({ "description": "d".repeat(20_001) })), &["description"]).await;
    app.create_task(&user, json!({ "title": "long", "description": "d".repeat(20_000) })).await;
    assert_invalid(&app, &user, t(json!({ "priority": "huge" })), &["priority"]).await;
    assert_invalid(&app, &user, t(json!({ "priority": "critical" })), &["priority"]).await;
    let tags: Vec<String> = (0..21).map(|i| format!("tag{i}")).collect();
    assert_invalid(&app, &user, t(json!({ "tags": tags })), &["tags"]).await;
    // Twenty-one spellings of fewer tags are fine: the limit is on the set.
    let same: Vec<String> = (0..21).map(|i| if i % 2 == 0 { "#Home".into() } else { "home".into() }).collect();
    app.create_task(&user, json!({ "title": "dupes", "tags": same })).await;
    for bad in ["semi;colon", "a,b", "<script>", "", "#", "x".repeat(51).as_str(), "emoji🎉"] {
        assert_invalid(&app, &user, t(json!({ "tags": [bad] })), &["tags"]).await;
    }
    for bad in ["tomorrow", "2026-13-01", "2026-11-24T25:00:00Z", "24.11.2026", "2026-11-24T09:00", ""] {
        assert_invalid(&app, &user, t(json!({ "due": bad })), &["due"]).await;
    }
    let problem =
        assert_invalid(&app, &user, t(json!({ "due": "2026-11-24T09:00[Mars/Olympus_Mons]" })), &["due"]).await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("Mars/Olympus_Mons"), "{problem}");
    // 02:30 does not exist in Berlin on the day clocks go forward.
    assert_invalid(&app, &user, t(json!({ "due": "2026-03-29T02:30[Europe/Berlin]" })), &["due"]).await;
    assert_invalid(&app, &user, t(json!({ "due": "2026-11-24T09:00:00+05:00[Europe/Berlin]" })), &["due"]).await;
    assert_invalid(&app, &user, t(json!({ "due": "2026-11-24", "reminders": ["soon"] })), &["reminders[0]"]).await;
    assert_invalid(&app, &user, t(json!({ "due": "2026-11-24", "reminders": ["PT15M", "-PT5M"] })), &["reminders[1]"])
        .await;
    assert_invalid(&app, &user, t(json!({ "due": "2026-11-24", "reminders": ["P1Y"] })), &["reminders[0]"]).await;
    let eleven: Vec<String> = (1..=11).map(|i| format!("PT{i}M")).collect();
    assert_invalid(&app, &user, t(json!({ "due": "2026-11-24", "reminders": eleven })), &["reminders"]).await;
    assert_invalid(&app, &user, t(json!({ "reminders": ["PT15M"] })), &["reminders"]).await;
    // An absolute reminder needs no due.
    app.create_task(&user, json!({ "title": "absolute", "reminders": ["2026-11-24T08:00:00Z"] })).await;
    for bad in
        ["sometimes", "FREQ=FORTNIGHTLY", "FREQ=DAILY;INTERVAL=0", "FREQ=WEEKLY;BYDAY=XX", "DTSTART:20260101T000000Z"]
    {
        assert_invalid(&app, &user, t(json!({ "recurrence": bad })), &["recurrence"]).await;
    }
    // Every invalid field at once, in a stable order.
    assert_invalid(
        &app,
        &user,
        json!({ "title": "", "priority": "huge", "due": "someday", "reminders": ["PT5M", "later"], "recurrence": "sometimes" }),
        &["title", "priority", "due", "reminders[1]", "recurrence"],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn patch_validates_like_create() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "fine" })).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    for (body, field) in [
        (json!({ "title": "" }), "title"),
        (json!({ "title": null }), "title"),
        (json!({ "title": "x".repeat(501) }), "title"),
        (json!({ "priority": "huge" }), "priority"),
        (json!({ "due": "nope" }), "due"),
        (json!({ "reminders": ["PT15M"] }), "reminders"),
        (json!({ "recurrence": "FREQ=NEVER" }), "recurrence"),
        (json!({ "tags": ["a;b"] }), "tags"),
        (json!({ "position": null }), "position"),
        (json!({ "title": 5 }), "title"),
        (json!({ "position": "first" }), "position"),
    ] {
        let response = app.patch(&path, &user).json(&body).send().await.unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation", &body.to_string()).await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let response = app.patch(&path, &user).json(&json!({ "titel": "typo" })).send().await.unwrap();
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "titel", "{problem}");
    // Nothing was changed by any of them.
    let version = task["version"].clone();
    let now: Value = app.get(&path, &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["version"], version);
    app.stop().await;
}

#[tokio::test]
async fn wrong_json_types_and_unknown_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for (body, field) in [
        (json!({ "title": 5 }), "title"),
        (json!({ "title": ["a"] }), "title"),
        (json!({ "title": "ok", "tags": "home" }), "tags"),
        (json!({ "title": "ok", "tags": [1, 2] }), "tags[0]"),
        (json!({ "title": "ok", "position": 1.5 }), "position"),
        (json!({ "title": "ok", "position": "1" }), "position"),
        (json!({ "title": "ok", "reminders": "PT5M" }), "reminders"),
        (json!({ "title": "ok", "due": 20261124 }), "due"),
    ] {
        let response = app.post("/api/v1/tasks", &user).json(&body).send().await.unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation", &body.to_string()).await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let response =
        app.post("/api/v1/tasks", &user).json(&json!({ "title": "ok", "titel": "typo" })).send().await.unwrap();
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "titel", "{problem}");
    for body in [json!([]), json!("title"), json!(null), json!(42)] {
        let response = app.post("/api/v1/tasks", &user).json(&body).send().await.unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation", &body.to_string()).await;
        assert_eq!(problem["errors"][0]["field"], "body", "{body}: {problem}");
    }
    app.stop().await;
}

#[tokio::test]
async fn transport_problems_get_their_own_status() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for raw in ["{", "{\"title\": }", "not json", "", "{\"title\": \"a\"} trailing", "\u{feff}{}"] {
        let response =
            app.post("/api/v1/tasks", &user).header("content-type", "application/json").body(raw).send().await.unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST, "bad-request").await;
    }
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut rb = app.post("/api/v1/tasks", &user).body(r#"{"title":"typed"}"#);
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        assert_problem(rb.send().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type").await;
    }
    // A JSON content type with parameters is still JSON.
    let response = app
        .post("/api/v1/tasks", &user)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"title":"with charset"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let huge = json!({ "title": "big", "description": "x".repeat(1024 * 1024 + 1) });
    let response = app.post("/api/v1/tasks", &user).json(&huge).send().await.unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    // Also with an Idempotency-Key (which reads the body before the handler).
    let response =
        app.post("/api/v1/tasks", &user).header("idempotency-key", "big-1").json(&huge).send().await.unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    let task = app.create_task(&user, json!({ "title": "small" })).await;
    let response =
        app.patch(&format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()), &user).json(&huge).send().await.unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    app.stop().await;
}

#[tokio::test]
async fn bad_list_parameters_are_named() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for (query, field) in [
        ("sort=foo", "sort"),
        ("order=sideways", "order"),
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("limit=-5", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=eyJzIjoicG9zaXRpb24ifQ", "cursor"),
        ("status=finished", "status"),
        ("priority=huge", "priority"),
        ("priority=high&priority=nope", "priority"),
        ("tag=a;b", "tag"),
        ("due_before=tomorrow", "due_before"),
        ("due_after=2026-13-01", "due_after"),
    ] {
        let response = app.get(&format!("/api/v1/tasks?{query}"), &user).send().await.unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation", query).await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    // Values that are not even of the right type are a malformed query (400,
    // as docs/api.md says), still a problem document.
    for query in ["limit=abc", "overdue=maybe", "limit=99999999999999999999"] {
        let response = app.get(&format!("/api/v1/tasks?{query}"), &user).send().await.unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST, "bad-request", query).await;
    }
    // Every bad parameter at once.
    let response = app.get("/api/v1/tasks?sort=foo&limit=0&order=up", &user).send().await.unwrap();
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");
    // The bounds themselves are fine.
    for query in ["limit=1", "limit=200", "sort=due&order=desc", "q=", "overdue=false"] {
        assert_eq!(
            app.get(&format!("/api/v1/tasks?{query}"), &user).send().await.unwrap().status(),
            StatusCode::OK,
            "{query}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for path in ["/nope", "/api/v1/nope", "/api/v2/tasks", "/api/v1/tasks/x/y/z"] {
        let response = app.get(path, &user).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/tasks"),
        (Method::PUT, "/api/v1/tasks"),
        (Method::GET, "/api/v1/auth/login"),
        (Method::POST, "/health"),
        (Method::PUT, &format!("/api/v1/tasks/{}", uuid::Uuid::now_v7())),
    ] {
        let response = app.request(method.clone(), path, Some(&user)).send().await.unwrap();
        assert!(response.headers().get("allow").is_some(), "{method} {path}: a 405 lists the allowed methods");
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;
    }
    app.stop().await;
}

/// Random JSON, biased towards the shapes and edge values that break parsers.
fn junk(rng: &mut StdRng, depth: u32) -> Value {
    let strings = [
        "",
        " ",
        "\u{0000}",
        "💥",
        "null",
        "PT",
        "P",
        "-P1D",
        "2026-02-30",
        "9999-12-31T23:59:59Z",
        "0000-01-01",
        "2026-11-24T09:00[",
        "[Europe/Berlin]",
        "FREQ=",
        "FREQ=YEARLY;COUNT=-1",
        "FREQ=SECONDLY;INTERVAL=1",
        "FREQ=DAILY;UNTIL=19000101",
        "RRULE:FREQ=DAILY",
        "\"",
        "\\",
        "#",
        "##",
        "a\u{202e}b",
        "%00",
        "' OR 1=1 --",
    ];
    match rng.gen_range(0..if depth > 2 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.r#gen::<bool>()),
        2 => json!(rng.r#gen::<i64>()),
        3 => json!(rng.r#gen::<f64>() * 1e300),
        4 => json!(strings[rng.gen_range(0..strings.len())]),
        5 => {
            let len = rng.gen_range(0..40);
            json!((0..len).map(|_| rng.r#gen::<char>()).collect::<String>())
        }
        6 | 7 => json!((0..rng.gen_range(0..25)).map(|_| junk(rng, depth + 1)).collect::<Vec<_>>()),
        _ => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.gen_range(0..4) {
                map.insert(["title", "x", "due", ""][rng.gen_range(0..4)].into(), junk(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

fn junk_task(rng: &mut StdRng) -> Value {
    let fields =
        ["title", "description", "priority", "tags", "due", "reminders", "recurrence", "position", "status", "id"];
    let mut body = serde_json::Map::new();
    if rng.gen_bool(0.7) {
        body.insert("title".into(), json!("junk"));
    }
    for _ in 0..rng.gen_range(0..5) {
        let field = fields[rng.gen_range(0..fields.len())];
        let value = match (field, rng.gen_range(0..3)) {
            ("tags" | "reminders", 0) => json!((0..rng.gen_range(0..30)).map(|_| junk(rng, 3)).collect::<Vec<_>>()),
            ("due", 0) => json!(format!(
                "2026-{:02}-{:02}T{:02}:{:02}[{}]",
                rng.gen_range(0..14),
                rng.gen_range(0..33),
                rng.gen_range(0..26),
                rng.gen_range(0..61),
                ["Europe/Berlin", "UTC", "Etc/GMT+14", "X"][rng.gen_range(0..4)]
            )),
            ("position", 0) => json!([i64::MIN, i64::MAX, 0, -1][rng.gen_range(0..4)]),
            _ => junk(rng, 0),
        };
        body.insert(field.into(), value);
    }
    Value::Object(body)
}

#[tokio::test]
async fn random_junk_never_gets_a_server_error() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "target", "due": "2026-11-24" })).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    let seed = rand::random::<u64>();
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..300 {
        let body = junk_task(&mut rng);
        let response = app.post("/api/v1/tasks", &user).json(&body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success() || status.is_client_error(),
            "seed {seed} round {round}: POST {body} → {status} {text}"
        );

        let body = junk_task(&mut rng);
        let response = app.patch(&path, &user).json(&body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success() || status.is_client_error(),
            "seed {seed} round {round}: PATCH {body} → {status} {text}"
        );

        let raw: Vec<u8> = (0..rng.gen_range(0..64)).map(|_| rng.r#gen::<u8>()).collect();
        let response = app
            .post("/api/v1/tasks", &user)
            .header("content-type", "application/json")
            .body(raw.clone())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "seed {seed} round {round}: raw {raw:?} → {}", response.status());
    }
    // Junk in list queries too.
    for round in 0..100 {
        let keys = [
            "status",
            "priority",
            "tag",
            "q",
            "due_before",
            "due_after",
            "overdue",
            "sort",
            "order",
            "limit",
            "cursor",
        ];
        let query: Vec<String> = (0..rng.gen_range(1..5))
            .map(|_| {
                let value: String = (0..rng.gen_range(0..12)).map(|_| rng.r#gen::<char>()).collect();
                format!("{}={}", keys[rng.gen_range(0..keys.len())], urlencode(&value))
            })
            .collect();
        let query = query.join("&");
        let response = app.get(&format!("/api/v1/tasks?{query}"), &user).send().await.unwrap();
        assert!(!response.status().is_server_error(), "seed {seed} round {round}: ?{query} → {}", response.status());
    }
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// What the OpenAPI schemas state is what the server holds to (the contract
/// test, tests/contract, checks it at large): a body is an object, a limit out
/// of its range is refused rather than clamped, a whole number may be written
/// `3.0`, a section's name may be left out of a change but not sent as `null`,
/// and an empty `format=` is not the default format.
#[tokio::test]
async fn the_schemas_constraints_are_the_servers() {
    let app = spawn_app().await;
    let user = app.new_user().await;

    let array = app.patch("/api/v1/me", &user).json(&json!([null, null])).send().await.unwrap();
    let problem = expect_problem(array, StatusCode::UNPROCESSABLE_ENTITY, "validation", "[null, null]").await;
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");

    for path in ["/api/v1/notifications?limit=0", "/api/v1/notifications?limit=201"] {
        let response = app.get(path, &user).send().await.unwrap();
        expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation", path).await;
    }
    let ok = app.get("/api/v1/notifications?limit=200", &user).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let project = app.post("/api/v1/projects", &user).json(&json!({ "name": "Home", "position": 3.0 })).send();
    let project: Value = project.await.unwrap().json().await.unwrap();
    assert_eq!(project["position"], 3, "{project}");
    let past = json!({ "name": "Far", "position": -9_223_372_036_854_775_809.0_f64 });
    let response = app.post("/api/v1/projects", &user).json(&past).send().await.unwrap();
    expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation", &past.to_string()).await;

    let sections = format!("/api/v1/projects/{}/sections", project["id"].as_str().unwrap());
    let section: Value =
        app.post(&sections, &user).json(&json!({ "name": "Doing" })).send().await.unwrap().json().await.unwrap();
    let section = format!("/api/v1/sections/{}", section["id"].as_str().unwrap());
    let renamed = app.patch(&section, &user).json(&json!({ "position": 2 })).send().await.unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let null = app.patch(&section, &user).json(&json!({ "name": null })).send().await.unwrap();
    let problem = expect_problem(null, StatusCode::UNPROCESSABLE_ENTITY, "validation", "name: null").await;
    assert_eq!(problem["errors"][0]["field"], "name", "{problem}");

    let empty = app.get("/api/v1/export?format=", &user).send().await.unwrap();
    expect_problem(empty, StatusCode::BAD_REQUEST, "bad-request", "format=").await;
    app.stop().await;
}
