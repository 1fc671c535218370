//! Every task endpoint, and the history each change leaves in the event log.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, spawn_app};

async fn read(app: &TestApp, user: &TestUser, id: &str) -> (StatusCode, Value) {
    let response = app.get(&format!("/api/v1/tasks/{id}"), user).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn patch(app: &TestApp, user: &TestUser, id: &str, body: Value) -> Value {
    let response = app.patch(&format!("/api/v1/tasks/{id}"), user).json(&body).send().await.unwrap();
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "PATCH {body} failed: {json}");
    json
}

#[tokio::test]
async fn create_with_every_field_and_read_it_back() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app
        .post("/api/v1/tasks", &user)
        .json(&json!({
            "title": "  Quarterly taxes  ",
            "description": "Forms **A** and B",
            "priority": "urgent",
            "tags": ["#Finance", "Home Office", "finance", "  #home office "],
            "due": "2026-11-24T09:00[Europe/Berlin]",
            "reminders": ["PT15M", "1d", "2026-11-20T08:00:00Z"],
            "recurrence": "FREQ=MONTHLY;BYMONTHDAY=24",
            "position": 7,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = response.json().await.unwrap();
    let id = task["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/tasks/{id}"));
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7, "task ids are UUIDv7");
    assert_eq!(task["owner_id"], user.id.as_str());
    assert_eq!(task["title"], "Quarterly taxes");
    assert_eq!(task["description"], "Forms **A** and B");
    assert_eq!(task["status"], "open");
    assert_eq!(task["completed_at"], Value::Null);
    assert_eq!(task["priority"], "urgent");
    assert_eq!(task["tags"], json!(["finance", "home-office"]));
    assert_eq!(task["due"], "2026-11-24T09:00:00+01:00[Europe/Berlin]");
    assert_eq!(task["due_at"], "2026-11-24T08:00:00Z");
    // Reminders are a set: deduplicated, absolute instants first, then offsets.
    assert_eq!(task["reminders"], json!(["2026-11-20T08:00:00Z", "PT15M", "P1D"]));
    assert_eq!(task["recurrence"], "FREQ=MONTHLY;BYMONTHDAY=24");
    assert_eq!(task["position"], 7);
    assert_eq!(task["version"], 1);
    assert_eq!(task["created_at"], task["updated_at"]);

    // The Location answers the same task.
    let fetched = app.client.get(app.url(&location)).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["etag"], "\"1\"");
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(fetched, task);
    app.stop().await;
}

#[tokio::test]
async fn due_is_accepted_in_every_documented_form() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let cases = [
        // A whole day counts until its last millisecond (UTC).
        ("2026-11-24", "2026-11-24", Some("2026-11-24T23:59:59.999Z")),
        ("2026-11-24T09:00:00Z", "2026-11-24T09:00:00Z", Some("2026-11-24T09:00:00Z")),
        ("2026-11-24T09:00:00+02:00", "2026-11-24T07:00:00Z", Some("2026-11-24T07:00:00Z")),
        ("2026-11-24T09:00[Europe/Berlin]", "2026-11-24T09:00:00+01:00[Europe/Berlin]", Some("2026-11-24T08:00:00Z")),
        (
            "2026-07-01T09:00:00[America/New_York]",
            "2026-07-01T09:00:00-04:00[America/New_York]",
            Some("2026-07-01T13:00:00Z"),
        ),
        (
            "2026-11-24T09:00:00+01:00[Europe/Berlin]",
            "2026-11-24T09:00:00+01:00[Europe/Berlin]",
            Some("2026-11-24T08:00:00Z"),
        ),
    ];
    for (given, answered, instant) in cases {
        let task = app.create_task(&user, json!({ "title": given, "due": given })).await;
        assert_eq!(task["due"], answered, "due {given}");
        assert_eq!(task["due_at"].as_str(), instant, "due_at of {given}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_minimal_task_gets_defaults() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Just a title" })).await;
    assert_eq!(task["description"], "");
    assert_eq!(task["priority"], "none");
    assert_eq!(task["tags"], json!([]));
    assert_eq!(task["due"], Value::Null);
    assert_eq!(task["due_at"], Value::Null);
    assert_eq!(task["reminders"], json!([]));
    assert_eq!(task["recurrence"], Value::Null);
    assert!(task["position"].is_i64());
    // New tasks go to the top of the list by default.
    let second = app.create_task(&user, json!({ "title": "Second" })).await;
    assert!(second["position"].as_i64() <= task["position"].as_i64(), "{task} {second}");
    app.stop().await;
}

#[tokio::test]
async fn list_answers_the_users_tasks() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let empty: Value = app.get("/api/v1/tasks", &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(empty["items"], json!([]));
    assert!(empty.get("next_cursor").is_none(), "absent on the last page: {empty}");
    let a = app.create_task(&user, json!({ "title": "a", "position": 2 })).await;
    let b = app.create_task(&user, json!({ "title": "b", "position": 1 })).await;
    let list: Value = app.get("/api/v1/tasks", &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([b, a]), "default order is position");
    app.stop().await;
}

#[tokio::test]
async fn patch_merges_and_null_clears() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app
        .create_task(
            &user,
            json!({
                "title": "Water plants", "description": "balcony", "priority": "low", "tags": ["home"],
                "due": "2026-11-24T09:00:00Z", "reminders": ["PT1H"], "recurrence": "FREQ=WEEKLY", "position": 3,
            }),
        )
        .await;
    let id = task["id"].as_str().unwrap();

    let changed = patch(&app, &user, id, json!({ "title": "Water all plants", "tags": ["Home", "Garden"] })).await;
    assert_eq!(changed["title"], "Water all plants");
    assert_eq!(changed["tags"], json!(["garden", "home"]));
    // Fields not in the patch stay.
    assert_eq!(changed["description"], "balcony");
    assert_eq!(changed["priority"], "low");
    assert_eq!(changed["due"], "2026-11-24T09:00:00Z");
    assert_eq!(changed["recurrence"], "FREQ=WEEKLY");
    assert_eq!(changed["position"], 3);
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["created_at"], task["created_at"]);
    // As instants: RFC 3339 text leaves out a zero fraction, so it does not sort as time does.
    let instant = |t: &Value| chrono::DateTime::parse_from_rfc3339(t.as_str().expect("a timestamp")).expect("RFC 3339");
    assert!(instant(&changed["updated_at"]) >= instant(&task["updated_at"]));

    // An offset reminder needs a due: clearing the due alone is refused...
    let response = app.patch(&format!("/api/v1/tasks/{id}"), &user).json(&json!({ "due": null })).send().await.unwrap();
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(body["errors"][0]["field"], "reminders");
    // ...and the refused change left no trace.
    assert_eq!(read(&app, &user, id).await.1["version"], 2);

    // ...clearing both is fine. `null` clears every clearable field.
    let cleared = patch(
        &app,
        &user,
        id,
        json!({ "due": null, "reminders": null, "recurrence": null, "description": null, "priority": null, "tags": null }),
    )
    .await;
    assert_eq!(cleared["due"], Value::Null);
    assert_eq!(cleared["due_at"], Value::Null);
    assert_eq!(cleared["reminders"], json!([]));
    assert_eq!(cleared["recurrence"], Value::Null);
    assert_eq!(cleared["description"], "");
    assert_eq!(cleared["priority"], "none");
    assert_eq!(cleared["tags"], json!([]));
    assert_eq!(cleared["version"], 3);

    // Setting the due again, in a zone; the merge-patch media type is accepted.
    let response = app
        .patch(&format!("/api/v1/tasks/{id}"), &user)
        .header("content-type", "application/merge-patch+json")
        .body(json!({ "due": "2026-03-29T02:30[Europe/London]", "position": 1 }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let again: Value = response.json().await.unwrap();
    assert!(again["due"].as_str().unwrap().ends_with("[Europe/London]"), "{again}");
    assert_eq!(again["position"], 1);

    // A patch that changes nothing writes nothing.
    let same = patch(&app, &user, id, json!({ "position": 1 })).await;
    assert_eq!(same["version"], again["version"]);
    let empty = patch(&app, &user, id, json!({})).await;
    assert_eq!(empty["version"], again["version"]);
    let history = app.task_history(&user, id).await;
    let kinds: Vec<&str> = history.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task.created", "task.updated", "task.updated", "task.updated"]);
    // The update event says which fields changed.
    assert_eq!(history[1]["data"]["changes"], json!(["title", "tags"]), "{}", history[1]);
    app.stop().await;
}

#[tokio::test]
async fn complete_is_idempotent_and_reopen_undoes_it() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Ship it" })).await;
    let id = task["id"].as_str().unwrap();

    let response = app.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let done: Value = response.json().await.unwrap();
    assert_eq!(done["status"], "completed");
    assert!(done["completed_at"].is_string());
    assert_eq!(done["version"], 2);

    let again: Value =
        app.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(again, done, "completing a completed task changes nothing");

    let response = app.post(&format!("/api/v1/tasks/{id}/reopen"), &user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reopened: Value = response.json().await.unwrap();
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["completed_at"], Value::Null);
    assert_eq!(reopened["version"], 3);
    let again: Value =
        app.post(&format!("/api/v1/tasks/{id}/reopen"), &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(again, reopened, "reopening an open task changes nothing");

    let history = app.task_history(&user, id).await;
    let kinds: Vec<&str> = history.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task.created", "task.completed", "task.reopened"]);

    // A completed task is still a task: it can be read, listed, and changed.
    let (status, fetched) = read(&app, &user, id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, reopened);
    app.stop().await;
}

#[tokio::test]
async fn delete_answers_204_then_404_and_keeps_the_history() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Temporary", "tags": ["x"] })).await;
    let id = task["id"].as_str().unwrap();
    let response = app.delete(&format!("/api/v1/tasks/{id}"), &user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());

    assert_problem(
        app.get(&format!("/api/v1/tasks/{id}"), &user).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert_problem(
        app.delete(&format!("/api/v1/tasks/{id}"), &user).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let patch =
        app.patch(&format!("/api/v1/tasks/{id}"), &user).json(&json!({ "title": "back" })).send().await.unwrap();
    assert_problem(patch, StatusCode::NOT_FOUND, "not-found").await;
    for action in ["complete", "reopen"] {
        let response = app.post(&format!("/api/v1/tasks/{id}/{action}"), &user).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
    let list: Value = app.get("/api/v1/tasks?tag=x", &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]));

    let history = app.task_history(&user, id).await;
    let kinds: Vec<&str> = history.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task.created", "task.deleted"]);
    assert_eq!(history[1]["data"]["task"]["title"], "Temporary");
    app.stop().await;
}

#[tokio::test]
async fn ids_that_name_no_task_answer_404() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let missing = uuid::Uuid::now_v7().to_string();
    for id in [missing.as_str(), "not-a-uuid", "1", "%20", "00000000-0000-0000-0000-000000000000"] {
        let response = app.get(&format!("/api/v1/tasks/{id}"), &user).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
        let response = app.get(&format!("/api/v1/tasks/{id}/history"), &user).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
        let response =
            app.patch(&format!("/api/v1/tasks/{id}"), &user).json(&json!({ "title": "x" })).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn history_lists_every_change_in_order_with_the_full_envelope() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{parent_span}-01");
    let send = |rb: reqwest::RequestBuilder, request_id: &str| {
        rb.header("x-request-id", request_id).header("traceparent", traceparent.clone()).send()
    };

    let response =
        send(app.post("/api/v1/tasks", &user).json(&json!({ "title": "Tracked" })), "req-create-1").await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], "req-create-1", "the request id is echoed");
    let task: Value = response.json().await.unwrap();
    let id = task["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tasks/{id}");
    assert_eq!(
        send(app.patch(&path, &user).json(&json!({ "priority": "high" })), "req-update-2").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        send(app.post(&format!("{path}/complete"), &user), "req-complete-3").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        send(app.post(&format!("{path}/reopen"), &user), "req-reopen-4").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(send(app.delete(&path, &user), "req-delete-5").await.unwrap().status(), StatusCode::NO_CONTENT);

    let response = app.get(&format!("{path}/history"), &user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let history = body["items"].as_array().unwrap();
    let expected = [
        ("task.created", "req-create-1", 1),
        ("task.updated", "req-update-2", 2),
        ("task.completed", "req-complete-3", 3),
        ("task.reopened", "req-reopen-4", 4),
        ("task.deleted", "req-delete-5", 4),
    ];
    assert_eq!(history.len(), expected.len(), "{body}");
    let mut previous_seq = 0;
    let mut previous_id = uuid::Uuid::nil();
    let mut previous_time = String::new();
    for (event, (kind, request_id, version)) in history.iter().zip(expected) {
        assert_eq!(event["event_type"], kind, "{event}");
        let event_id = uuid::Uuid::parse_str(event["event_id"].as_str().unwrap()).unwrap();
        assert_eq!(event_id.get_version_num(), 7, "event ids are UUIDv7");
        assert!(event_id > previous_id, "event ids grow with the log");
        previous_id = event_id;
        let seq = event["seq"].as_i64().unwrap();
        assert!(seq > previous_seq, "commit order");
        previous_seq = seq;
        assert_eq!(event["event_version"], "1", "{event}");
        let timestamp = event["timestamp"].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(timestamp).expect("an RFC 3339 timestamp");
        assert!(timestamp >= previous_time.as_str());
        previous_time = timestamp.to_owned();
        assert_eq!(event["source"], "ontask");
        assert_eq!(event["user_id"], user.id.as_str());
        assert_eq!(event["task_id"], id.as_str());
        assert_eq!(event["data"]["task"]["id"], id.as_str());
        assert_eq!(event["data"]["task"]["version"], version, "{event}");
        let metadata = &event["metadata"];
        assert_eq!(metadata["correlation_id"], request_id);
        assert_eq!(metadata["actor"], "user");
        let recorded = metadata["traceparent"].as_str().expect("traceparent recorded");
        let parts: Vec<&str> = recorded.split('-').collect();
        assert_eq!(parts.len(), 4, "{recorded}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], trace_id, "the trace continues");
        assert_eq!(parts[2].len(), 16);
        assert_ne!(parts[2], parent_span, "the request is its own span, a child of the caller's");
        assert_eq!(parts[3], "01");
    }
    assert_eq!(history[2]["data"]["task"]["status"], "completed");
    assert_eq!(history[1]["data"]["changes"], json!(["priority"]));
    app.stop().await;
}

#[tokio::test]
async fn without_request_id_or_traceparent_the_server_makes_them() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app.post("/api/v1/tasks", &user).json(&json!({ "title": "untraced" })).send().await.unwrap();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let task: Value = response.json().await.unwrap();
    let history = app.task_history(&user, task["id"].as_str().unwrap()).await;
    assert_eq!(history[0]["metadata"]["correlation_id"], request_id.as_str());
    let traceparent = history[0]["metadata"]["traceparent"].as_str().unwrap();
    assert_eq!(traceparent.len(), 55, "{traceparent}");
    // A malformed traceparent is ignored, not an error.
    let response = app
        .post("/api/v1/tasks", &user)
        .header("traceparent", "garbage")
        .header("x-request-id", "has spaces in it")
        .json(&json!({ "title": "badly traced" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_ne!(response.headers()["x-request-id"], "has spaces in it");
    app.stop().await;
}

#[tokio::test]
async fn a_bulk_create_answers_every_item_and_creates_only_the_valid_ones() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body = json!({ "tasks": [
        { "title": "First", "tags": ["home"], "due": "2026-12-24T18:00[Europe/Berlin]" },
        { "title": "" },
        { "title": "Third", "colour": "red" },
        { "description": "no title" },
        { "title": "Fifth", "priority": "high", "due": "2026-12-25", "reminders": ["PT1H"] },
        { "title": "Sixth", "project_id": 2.5 },
    ]});
    let response = app.post("/api/v1/tasks/batch", &user).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let result: Value = response.json().await.unwrap();
    assert_eq!((result["created"].as_u64(), result["failed"].as_u64()), (Some(2), Some(4)), "{result}");
    let items = result["items"].as_array().unwrap();
    let statuses: Vec<_> = items.iter().map(|i| i["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [201, 422, 422, 422, 201, 422]);
    // Each refused item carries the problem a single create would answer.
    let single = app.post("/api/v1/tasks", &user).json(&json!({ "title": "" })).send().await.unwrap();
    let single = assert_problem(single, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(items[1]["problem"], single);
    assert_eq!(items[2]["problem"]["errors"][0]["field"], "colour", "{}", items[2]);
    assert_eq!(items[3]["problem"]["errors"][0]["field"], "title", "{}", items[3]);
    assert_eq!(items[5]["problem"]["errors"][0]["field"], "project_id", "{}", items[5]);
    assert_eq!(items[0]["task"]["due"], "2026-12-24T18:00:00+01:00[Europe/Berlin]");
    assert_eq!(items[4]["task"]["priority"], "high");

    // Exactly the valid ones exist, in the order they were sent, one event each.
    let listed: Value = app.get("/api/v1/tasks?limit=10", &user).send().await.unwrap().json().await.unwrap();
    let titles: Vec<_> = listed["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["First", "Fifth"]);
    for item in [&items[0], &items[4]] {
        let history = app.task_history(&user, item["task"]["id"].as_str().unwrap()).await;
        let kinds: Vec<_> = history.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["task.created"]);
    }
}

#[tokio::test]
async fn a_bulk_create_is_bounded_and_replays_with_its_idempotency_key() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for tasks in [json!([]), json!(vec![json!({ "title": "t" }); 1001])] {
        let response = app.post("/api/v1/tasks/batch", &user).json(&json!({ "tasks": tasks })).send().await.unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "tasks", "{problem}");
    }
    let response = app.post("/api/v1/tasks/batch", &user).json(&json!({ "task": [] })).send().await.unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;

    let thousand: Vec<Value> = (0..1000).map(|n| json!({ "title": format!("Imported {n}") })).collect();
    let send = || {
        app.post("/api/v1/tasks/batch", &user)
            .header("Idempotency-Key", "import-1")
            .json(&json!({ "tasks": thousand }))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["created"], 1000);
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first, "the retry gets the first answer");
    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let page: Value =
            app.get(&format!("/api/v1/tasks?limit=200{cursor}"), &user).send().await.unwrap().json().await.unwrap();
        seen += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, 1000, "the retry created nothing");
}
