//! The chat agent, end to end. The model is the one test double: a local HTTP
//! server speaking the documented OpenAI Chat Completions protocol (a JSON
//! completion, or with `stream: true` SSE chunks whose `delta.tool_calls`
//! arrive in fragments, `finish_reason: "tool_calls"`, `data: [DONE]`),
//! answering from a script. Everything else is the real application.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, eventually, spawn_app, spawn_app_with};

mod projects;

/// What the scripted model answers to one request.
enum Step {
    Calls(Vec<(&'static str, Value)>),
    Text(&'static str),
    Status(u16),
    /// Answers after this long (longer than the app waits).
    Hang(Duration),
}

type Script = Box<dyn Fn(&Value) -> Step + Send + Sync>;

#[derive(Clone, Default)]
struct FakeModel {
    script: Arc<Mutex<VecDeque<Script>>>,
    /// Answer every request left over with this (for the step limit).
    forever: Arc<Mutex<Option<Script>>>,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

impl FakeModel {
    fn then(&self, step: impl Fn(&Value) -> Step + Send + Sync + 'static) {
        self.script.lock().expect("lock").push_back(Box::new(step));
    }

    fn requests(&self) -> Vec<Value> {
        self.requests.lock().expect("lock").iter().map(|(_, b)| b.clone()).collect()
    }

    /// Starts the server; returns its base URL (what `agent.llm.base_url` takes).
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let router = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(completions))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://127.0.0.1:{port}/v1")
    }
}

async fn completions(State(model): State<FakeModel>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).expect("the app sends JSON");
    model.requests.lock().expect("lock").push((headers, request.clone()));
    let step = {
        let next = model.script.lock().expect("lock").pop_front();
        match next {
            Some(script) => script(&request),
            None => match model.forever.lock().expect("lock").as_ref() {
                Some(script) => script(&request),
                None => panic!("the model was asked more often than scripted: {request}"),
            },
        }
    };
    let stream = request["stream"].as_bool().unwrap_or(false);
    match step {
        Step::Status(code) => {
            let status = AxumStatus::from_u16(code).expect("status");
            (status, axum::Json(json!({"error": {"message": "the model is on fire", "type": "server_error"}})))
                .into_response()
        }
        Step::Hang(d) => {
            tokio::time::sleep(d).await;
            (AxumStatus::OK, axum::Json(completion("late", &[]))).into_response()
        }
        Step::Text(text) if !stream => axum::Json(completion(text, &[])).into_response(),
        Step::Calls(calls) if !stream => axum::Json(completion("", &calls)).into_response(),
        step => sse(step),
    }
}

fn call_id(i: usize) -> String {
    format!("call_{}_{i}", uuid::Uuid::now_v7().simple())
}

fn completion(text: &str, calls: &[(&'static str, Value)]) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| {
            json!({"id": call_id(i), "type": "function", "function": {"name": name, "arguments": args.to_string()}})
        })
        .collect();
    let message = if tool_calls.is_empty() {
        json!({"role": "assistant", "content": text})
    } else {
        json!({"role": "assistant", "content": null, "tool_calls": tool_calls})
    };
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_700_000_000, "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": if calls.is_empty() { "stop" } else { "tool_calls" }}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
}

/// The answer as `stream: true` chunks, the arguments split across fragments.
fn sse(step: Step) -> Response {
    let chunk = |delta: Value, finish: Option<&str>| {
        let c = json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "test-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut body = chunk(json!({"role": "assistant", "content": ""}), None);
    match step {
        Step::Text(text) => {
            let mid = text.len() / 2;
            let mid = (0..=mid).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            body.push_str(&chunk(json!({"content": &text[..mid]}), None));
            body.push_str(&chunk(json!({"content": &text[mid..]}), None));
            body.push_str(&chunk(json!({}), Some("stop")));
        }
        Step::Calls(calls) => {
            for (i, (name, args)) in calls.iter().enumerate() {
                let args = args.to_string();
                let (a, b) = args.split_at(args.len() / 2);
                body.push_str(&chunk(
                    json!({"tool_calls": [{"index": i, "id": call_id(i), "type": "function",
                        "function": {"name": name, "arguments": ""}}]}),
                    None,
                ));
                body.push_str(&chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": a}}]}), None));
                body.push_str(&chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": b}}]}), None));
            }
            body.push_str(&chunk(json!({}), Some("tool_calls")));
        }
        _ => unreachable!("only text and tool calls stream"),
    }
    body.push_str("data: [DONE]\n\n");
    ([("content-type", "text/event-stream")], body).into_response()
}

/// The JSON of the newest tool result the app sent to the model.
fn last_tool_result(request: &Value) -> Value {
    let messages = request["messages"].as_array().expect("messages");
    let tool = messages.iter().rev().find(|m| m["role"] == "tool").expect("a tool message");
    serde_json::from_str(tool["content"].as_str().expect("content")).expect("tool result JSON")
}

async fn app_with_model(model: &FakeModel, adjust: impl FnOnce(&mut ontask::config::Config)) -> TestApp {
    let url = model.start().await;
    spawn_app_with(move |c| {
        c.agent.llm.base_url = Some(url);
        c.agent.llm.model = Some("test-model".into());
        c.agent.llm.api_key = Some("sk-test-key".to_owned().into());
        adjust(c);
    })
    .await
}

/// One chat message answered as JSON.
async fn say(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let response = app.post("/api/v1/chat", user).json(&body).send().await.expect("request");
    let status = response.status();
    let reply: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply
}

/// One chat message answered as an event stream: the events, and the final reply.
async fn say_streaming(app: &TestApp, user: &TestUser, body: Value) -> (Vec<(String, Value)>, Value) {
    let response =
        app.post("/api/v1/chat", user).header("accept", "text/event-stream").json(&body).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/event-stream"));
    let text = response.text().await.expect("body");
    let mut events: Vec<(String, Value)> = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = Some(n.trim().to_owned());
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            }
        }
        if let Some(name) = name {
            events.push((name, serde_json::from_str(&data).expect("event data is JSON")));
        }
    }
    let done = events.iter().find(|(n, _)| n == "done").map(|(_, d)| d.clone()).expect("a done event");
    (events, done)
}

async fn chat(app: &TestApp, user: &TestUser, body: Value, streaming: bool) -> (Vec<(String, Value)>, Value) {
    if streaming { say_streaming(app, user, body).await } else { (Vec::new(), say(app, user, body).await) }
}

/// The conversation as `GET /api/v1/conversations/{id}` shows it.
async fn stored_conversation(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.get(&format!("/api/v1/conversations/{id}"), user).send().await.expect("get").json().await.expect("json")
}

async fn task_status(app: &TestApp, user: &TestUser, id: &str) -> StatusCode {
    app.get(&format!("/api/v1/tasks/{id}"), user).send().await.expect("request").status()
}

/// Create → list → complete → delete (proposed, then confirmed), checking the
/// replies, the tasks, the stored conversation and the events' metadata.
async fn scripted_conversation(streaming: bool) {
    let model = FakeModel::default();
    let app = app_with_model(&model, |_| {}).await;
    let user = app.new_user().await;

    // 1. Create.
    model
        .then(|_| Step::Calls(vec![("add_task", json!({"title": "Buy milk", "due": "2030-01-15", "tags": ["home"]}))]));
    model.then(|req| {
        assert_eq!(last_tool_result(req)["task"]["title"], "Buy milk");
        Step::Text("Added “Buy milk” for 15 January.")
    });
    let (events, reply) =
        chat(&app, &user, json!({"message": "Remind me to buy milk on 15 Jan 2030"}), streaming).await;
    let conversation = reply["conversation_id"].as_str().expect("conversation id").to_owned();
    assert_eq!(reply["reply"], "Added “Buy milk” for 15 January.");
    assert_eq!(reply["mode"], "model");
    assert_eq!(reply["model"], "test-model");
    let calls = reply["tool_calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{reply}");
    assert_eq!(calls[0]["name"], "add_task");
    assert_eq!(calls[0]["status"], "ok");
    let task_id = calls[0]["result"]["task"]["id"].as_str().expect("task id").to_owned();
    if streaming {
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap_or_else(|| panic!("no {n} event in {names:?}"));
        assert_eq!(names[0], "conversation");
        assert!(at("tool_call") < at("tool_result") && at("tool_result") < at("delta") && at("delta") < at("done"));
        assert_eq!(events[at("tool_call")].1["status"], "started");
        assert_eq!(events[at("tool_call")].1["name"], "add_task");
        let text: String =
            events.iter().filter(|(n, _)| n == "delta").map(|(_, d)| d["text"].as_str().unwrap_or("")).collect();
        assert_eq!(text, "Added “Buy milk” for 15 January.");
    }
    assert_eq!(task_status(&app, &user, &task_id).await, StatusCode::OK);

    // What the model was sent: the model name, the key, every MCP tool, and the message.
    {
        let requests = model.requests.lock().expect("lock");
        let (headers, first) = &requests[0];
        assert_eq!(headers["authorization"], "Bearer sk-test-key");
        assert_eq!(first["model"], "test-model");
        assert_eq!(first["stream"], streaming);
        let tools: Vec<&str> =
            first["tools"].as_array().expect("tools").iter().filter_map(|t| t["function"]["name"].as_str()).collect();
        assert_eq!(tools.len(), ontask_agent::tools::catalog().len(), "{tools:?}");
        for name in ["add_task", "list_tasks", "complete_task", "delete_task", "quick_add"] {
            assert!(tools.contains(&name), "{name} missing from {tools:?}");
        }
        assert_eq!(first["messages"][0]["role"], "system");
        assert_eq!(first["messages"][1]["content"], "Remind me to buy milk on 15 Jan 2030");
        let second = &requests[1].1;
        let assistant = &second["messages"][2];
        assert_eq!(assistant["tool_calls"][0]["function"]["name"], "add_task");
        assert_eq!(second["messages"][3]["tool_call_id"], assistant["tool_calls"][0]["id"]);
    }

    // 2. List.
    model.then(|_| Step::Calls(vec![("list_tasks", json!({"status": "open"}))]));
    model.then(|req| {
        assert_eq!(last_tool_result(req)["count"], 1);
        Step::Text("You have one open task: Buy milk.")
    });
    let body = json!({"conversation_id": conversation, "message": "What is on my list?"});
    let (_, reply) = chat(&app, &user, body, streaming).await;
    assert_eq!(reply["conversation_id"], conversation.as_str());
    assert_eq!(reply["tool_calls"][0]["name"], "list_tasks");
    assert_eq!(reply["tool_calls"][0]["result"]["items"][0]["id"], task_id.as_str());

    // 3. Complete (the model takes the id from the earlier result in the history).
    model.then(|req| {
        let messages = req["messages"].as_array().expect("messages");
        let listed = messages.iter().rev().find(|m| m["role"] == "tool").expect("the list result");
        let result: Value = serde_json::from_str(listed["content"].as_str().expect("content")).expect("json");
        let id = result["items"][0]["id"].as_str().expect("id").to_owned();
        Step::Calls(vec![("complete_task", json!({ "id": id }))])
    });
    model.then(|_| Step::Text("Done, milk bought."));
    let body = json!({"conversation_id": conversation, "message": "I bought the milk"});
    let (_, reply) = chat(&app, &user, body, streaming).await;
    assert_eq!(reply["tool_calls"][0]["name"], "complete_task");
    assert_eq!(reply["tool_calls"][0]["status"], "ok");
    let task: Value =
        app.get(&format!("/api/v1/tasks/{task_id}"), &user).send().await.expect("get").json().await.expect("json");
    assert_eq!(task["status"], "completed");

    // 4. Delete: proposed with a dry run, not applied, and the model is not asked again.
    let id = task_id.clone();
    model.then(move |_| Step::Calls(vec![("delete_task", json!({ "id": id }))]));
    let asked = model.requests().len();
    let body = json!({"conversation_id": conversation, "message": "Delete it"});
    let (events, reply) = chat(&app, &user, body, streaming).await;
    assert_eq!(model.requests().len(), asked + 1);
    assert_eq!(reply["tool_calls"][0]["name"], "delete_task");
    assert_eq!(reply["tool_calls"][0]["status"], "proposed");
    let pending = &reply["pending_action"];
    let action = pending["id"].as_str().expect("a pending action").to_owned();
    assert!(pending["summary"].as_str().expect("summary").contains("delete \"Buy milk\""), "{pending}");
    assert!(reply["reply"].as_str().expect("reply").contains("confirm"), "{reply}");
    if streaming {
        assert!(events.iter().any(|(n, d)| n == "tool_result" && d["status"] == "proposed"), "{events:?}");
    }
    assert_eq!(task_status(&app, &user, &task_id).await, StatusCode::OK, "nothing is deleted before confirmation");
    let stored = stored_conversation(&app, &user, &conversation).await;
    assert_eq!(stored["pending_action"]["id"], action.as_str());

    // 5. Confirm: applied without asking the model.
    let (_, reply) = chat(&app, &user, json!({"conversation_id": conversation, "message": "yes"}), streaming).await;
    assert_eq!(model.requests().len(), asked + 1);
    assert_eq!(reply["tool_calls"][0]["name"], "delete_task");
    assert_eq!(reply["tool_calls"][0]["status"], "ok");
    assert!(reply["reply"].as_str().expect("reply").contains("deleted \"Buy milk\""), "{reply}");
    assert!(reply.get("pending_action").is_none());
    assert_eq!(task_status(&app, &user, &task_id).await, StatusCode::NOT_FOUND);

    // Every change carries the agent as actor and the conversation id.
    let history = app.task_history(&user, &task_id).await;
    let kinds: Vec<&str> = history.iter().filter_map(|e| e["event_type"].as_str()).collect();
    assert_eq!(kinds, ["task.created", "task.completed", "task.deleted"]);
    for event in &history {
        assert_eq!(event["metadata"]["actor"], "agent", "{event}");
        assert_eq!(event["metadata"]["conversation_id"], conversation.as_str(), "{event}");
    }

    // The conversation persisted, in order, with the tool calls.
    let list: Value = app.get("/api/v1/conversations", &user).send().await.expect("get").json().await.expect("json");
    assert_eq!(list["items"][0]["id"], conversation.as_str());
    assert_eq!(list["items"][0]["title"], "Remind me to buy milk on 15 Jan 2030");
    assert_eq!(list["items"][0]["has_pending_action"], false);
    let stored = stored_conversation(&app, &user, &conversation).await;
    assert!(stored.get("pending_action").is_none());
    let messages = stored["messages"].as_array().expect("messages");
    let users: Vec<&str> =
        messages.iter().filter(|m| m["role"] == "user").filter_map(|m| m["content"].as_str()).collect();
    assert_eq!(
        users,
        ["Remind me to buy milk on 15 Jan 2030", "What is on my list?", "I bought the milk", "Delete it", "yes"]
    );
    let called: Vec<String> = messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .flat_map(|m| m["tool_calls"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(called, ["add_task", "list_tasks", "complete_task", "delete_task", "delete_task"]);
    assert_eq!(messages.iter().filter(|m| m["role"] == "tool").count(), 4);

    // Another person cannot read or delete it.
    let other = app.new_user().await;
    let response = app.get(&format!("/api/v1/conversations/{conversation}"), &other).send().await.expect("get");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app.delete(&format!("/api/v1/conversations/{conversation}"), &other).send().await.expect("delete");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;

    // Its owner can; the tasks' history keeps the conversation id.
    let response = app.delete(&format!("/api/v1/conversations/{conversation}"), &user).send().await.expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get(&format!("/api/v1/conversations/{conversation}"), &user).send().await.expect("get");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let list: Value = app.get("/api/v1/conversations", &user).send().await.expect("get").json().await.expect("json");
    assert_eq!(list["items"], json!([]));
    let history = app.task_history(&user, &task_id).await;
    assert_eq!(history[0]["metadata"]["conversation_id"], conversation.as_str());
}

#[tokio::test]
async fn a_scripted_conversation_creates_lists_completes_and_deletes_with_confirmation() {
    scripted_conversation(false).await;
}

#[tokio::test]
async fn the_same_conversation_streams_tool_calls_and_text_as_they_happen() {
    scripted_conversation(true).await;
}

#[tokio::test]
async fn changes_to_more_than_a_few_tasks_wait_for_confirmation_and_anything_else_cancels() {
    let model = FakeModel::default();
    let app = app_with_model(&model, |_| {}).await;
    let user = app.new_user().await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            app.create_task(&user, json!({"title": format!("Chore {n}")})).await["id"].as_str().expect("id").to_owned(),
        );
    }
    let calls: Vec<(&'static str, Value)> = ids.iter().map(|id| ("complete_task", json!({ "id": id }))).collect();
    model.then(move |_| Step::Calls(calls.clone()));
    let reply = say(&app, &user, json!({"message": "Complete all my chores"})).await;
    let statuses: Vec<&str> =
        reply["tool_calls"].as_array().expect("calls").iter().filter_map(|c| c["status"].as_str()).collect();
    assert_eq!(statuses, ["proposed"; 4]);
    assert_eq!(reply["pending_action"]["calls"].as_array().expect("calls").len(), 4);
    let action = reply["pending_action"]["id"].as_str().expect("action").to_owned();
    let conversation = reply["conversation_id"].as_str().expect("id").to_owned();

    // A confirm that names another action is refused and changes nothing.
    let response = app
        .post("/api/v1/chat", &user)
        .json(&json!({"conversation_id": conversation, "confirm": "act_nope"}))
        .send()
        .await
        .expect("request");
    assert_problem(response, StatusCode::CONFLICT, "conflict").await;

    // Anything but yes cancels.
    let reply = say(&app, &user, json!({"conversation_id": conversation, "message": "no"})).await;
    assert!(reply["reply"].as_str().expect("reply").contains("Cancelled"), "{reply}");
    for id in &ids {
        let task: Value =
            app.get(&format!("/api/v1/tasks/{id}"), &user).send().await.expect("get").json().await.expect("json");
        assert_eq!(task["status"], "open");
    }
    // The cancelled action can no longer be confirmed.
    let response = app
        .post("/api/v1/chat", &user)
        .json(&json!({"conversation_id": conversation, "confirm": action}))
        .send()
        .await
        .expect("request");
    assert_problem(response, StatusCode::CONFLICT, "conflict").await;
    // Also when streaming: the refusal is a 409 answer, not an event.
    let response = app
        .post("/api/v1/chat", &user)
        .header("accept", "text/event-stream")
        .json(&json!({"conversation_id": conversation, "confirm": action}))
        .send()
        .await
        .expect("request");
    assert_problem(response, StatusCode::CONFLICT, "conflict").await;
    // Confirming needs the conversation.
    let response = app.post("/api/v1/chat", &user).json(&json!({"confirm": action})).send().await.expect("request");
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
}

#[tokio::test]
async fn a_proposal_left_too_long_expires_and_yes_no_longer_applies_it() {
    let model = FakeModel::default();
    let app = app_with_model(&model, |_| {}).await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({"title": "Old plan"})).await;
    let task_id = task["id"].as_str().expect("id").to_owned();
    let propose = |model: &FakeModel| {
        let id = task_id.clone();
        model.then(move |_| Step::Calls(vec![("delete_task", json!({ "id": id }))]));
    };

    propose(&model);
    let reply = say(&app, &user, json!({"message": "Delete the old plan"})).await;
    let expires: chrono::DateTime<chrono::Utc> =
        reply["pending_action"]["expires_at"].as_str().expect("expires_at").parse().expect("an instant");
    let created: chrono::DateTime<chrono::Utc> =
        reply["pending_action"]["created_at"].as_str().expect("created_at").parse().expect("an instant");
    assert_eq!(expires - created, chrono::TimeDelta::minutes(15));
    let conversation = reply["conversation_id"].as_str().expect("id").to_owned();
    let action = reply["pending_action"]["id"].as_str().expect("action").to_owned();

    // Fifteen minutes later (the stored proposal's expiry moved into the past).
    let age = || async {
        let db = crate::eventlog::LogDb::writable_of(&app).await;
        let raw: String = sqlx::query_scalar("SELECT pending_action FROM conversations WHERE id = $1")
            .bind(&conversation)
            .fetch_one(&db.pool)
            .await
            .expect("the pending action");
        let mut pending: Value = serde_json::from_str(&raw).expect("json");
        pending["expires_at"] = json!("2020-01-01T00:00:00Z");
        sqlx::query("UPDATE conversations SET pending_action = $1 WHERE id = $2")
            .bind(pending.to_string())
            .bind(&conversation)
            .execute(&db.pool)
            .await
            .expect("update");
        db.close().await;
    };
    age().await;
    let asked = model.requests().len();
    let reply = say(&app, &user, json!({"conversation_id": conversation, "message": "yes"})).await;
    assert!(reply["reply"].as_str().expect("reply").contains("expired"), "{reply}");
    assert!(reply.get("pending_action").is_none(), "{reply}");
    assert_eq!(model.requests().len(), asked, "the model is not asked to act on a stale yes");
    assert_eq!(task_status(&app, &user, &task_id).await, StatusCode::OK, "nothing was deleted");

    // An explicit confirm of an expired action is a conflict, and changes nothing either.
    propose(&model);
    let reply = say(&app, &user, json!({"conversation_id": conversation, "message": "Delete it after all"})).await;
    let action_again = reply["pending_action"]["id"].as_str().expect("a new action").to_owned();
    assert_ne!(action_again, action);
    age().await;
    let response = app
        .post("/api/v1/chat", &user)
        .json(&json!({"conversation_id": conversation, "confirm": action_again}))
        .send()
        .await
        .expect("request");
    let problem = assert_problem(response, StatusCode::CONFLICT, "conflict").await;
    assert!(problem["detail"].as_str().expect("detail").contains("expired"), "{problem}");
    assert_eq!(task_status(&app, &user, &task_id).await, StatusCode::OK);
    let stored = stored_conversation(&app, &user, &conversation).await;
    assert!(stored.get("pending_action").is_none(), "the expired proposal is gone: {stored}");
}

#[tokio::test]
async fn the_step_limit_ends_a_turn_with_a_clear_reply() {
    let model = FakeModel::default();
    *model.forever.lock().expect("lock") = Some(Box::new(|_| Step::Calls(vec![("list_tasks", json!({}))])));
    let app = app_with_model(&model, |c| c.agent.max_steps = 3).await;
    let user = app.new_user().await;
    let reply = say(&app, &user, json!({"message": "Keep looking"})).await;
    assert_eq!(reply["step_limit_reached"], true);
    assert!(reply["reply"].as_str().expect("reply").contains("step limit"), "{reply}");
    assert_eq!(reply["tool_calls"].as_array().expect("calls").len(), 3);
    assert_eq!(model.requests().len(), 3);
}

#[tokio::test]
async fn model_failures_are_bad_gateway_and_gateway_timeout_problems() {
    let model = FakeModel::default();
    let app = app_with_model(&model, |c| c.agent.llm.timeout = Duration::from_secs(1)).await;
    let user = app.new_user().await;

    model.then(|_| Step::Status(500));
    let response = app.post("/api/v1/chat", &user).json(&json!({"message": "hi"})).send().await.expect("request");
    let problem = assert_problem(response, StatusCode::BAD_GATEWAY, "bad-gateway").await;
    assert!(problem["detail"].as_str().expect("detail").contains("HTTP 500"), "{problem}");

    model.then(|_| Step::Hang(Duration::from_secs(30)));
    let response = app.post("/api/v1/chat", &user).json(&json!({"message": "hi"})).send().await.expect("request");
    let problem = assert_problem(response, StatusCode::GATEWAY_TIMEOUT, "gateway-timeout").await;
    assert!(problem["detail"].as_str().expect("detail").contains("did not answer"), "{problem}");

    // Streaming: the failure arrives as an error event carrying the problem.
    model.then(|_| Step::Status(503));
    let response = app
        .post("/api/v1/chat", &user)
        .header("accept", "text/event-stream")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .expect("request");
    let text = response.text().await.expect("body");
    assert!(text.contains("event: error") && text.contains("bad-gateway"), "{text}");
}

async fn health(app: &TestApp) -> Value {
    reqwest::get(app.url("/health")).await.expect("health").json().await.expect("json")
}

#[tokio::test]
async fn a_failing_model_trips_its_breaker_and_is_not_asked_until_a_probe_succeeds() {
    let model = FakeModel::default();
    let app = app_with_model(&model, |c| {
        c.circuit_breakers.failures = 2;
        c.circuit_breakers.open_for = Duration::from_secs(1);
    })
    .await;
    let user = app.new_user().await;
    let hi = json!({"message": "hi"});
    for _ in 0..2 {
        model.then(|_| Step::Status(500));
        let response = app.post("/api/v1/chat", &user).json(&hi).send().await.expect("request");
        assert_problem(response, StatusCode::BAD_GATEWAY, "bad-gateway").await;
    }

    // Open: refused at once, with when to try again, and the model not asked.
    let response = app.post("/api/v1/chat", &user).json(&hi).send().await.expect("request");
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("is failing")), "{problem}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(model.requests().len(), 2);
    let report = health(&app).await;
    assert_eq!(report["status"], "degraded", "{report}");
    assert!(report["checks"]["outbound"]["error"].as_str().is_some_and(|e| e.contains("llm")), "{report}");

    // Once the breaker lets a probe through, a model that answers closes it.
    model.then(|_| Step::Text("Hello again."));
    let reply = eventually(Duration::from_secs(30), "the probe to go through", || async {
        let response = app.post("/api/v1/chat", &user).json(&hi).send().await.expect("request");
        (response.status() == StatusCode::OK).then_some(response)
    })
    .await;
    let reply: Value = reply.json().await.expect("json");
    assert_eq!(reply["reply"], "Hello again.", "{reply}");
    assert_eq!(model.requests().len(), 3, "refused turns never reached the model");
    assert_eq!(health(&app).await["checks"]["outbound"]["status"], "up");
}

#[tokio::test]
async fn a_slow_model_holds_at_most_its_share_of_chat_turns() {
    let model = FakeModel::default();
    let app = app_with_model(&model, |c| {
        c.agent.llm.concurrency = 1;
        c.agent.llm.timeout = Duration::from_secs(30);
    })
    .await;
    let user = app.new_user().await;
    model.then(|_| Step::Hang(Duration::from_secs(2)));
    let slow = {
        let request = app.post("/api/v1/chat", &user).json(&json!({"message": "take your time"}));
        tokio::spawn(async move { request.send().await.expect("request").status() })
    };
    eventually(Duration::from_secs(10), "the slow request to reach the model", || async {
        (!model.requests().is_empty()).then_some(())
    })
    .await;
    let response = app.post("/api/v1/chat", &user).json(&json!({"message": "me too"})).send().await.expect("request");
    let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("as many requests as it may")), "{problem}");
    assert_eq!(slow.await.expect("join"), StatusCode::OK, "the turn in flight finishes");
    assert_eq!(model.requests().len(), 1);
}

#[tokio::test]
async fn without_a_model_plain_commands_work_and_the_reply_says_no_model_is_configured() {
    let app = spawn_app().await;
    let user = app.new_user().await;

    let reply = say(&app, &user, json!({"message": "add Buy bread tomorrow #home !high"})).await;
    assert_eq!(reply["mode"], "commands");
    assert!(reply["notice"].as_str().expect("notice").contains("No language model is configured"));
    assert_eq!(reply["tool_calls"][0]["name"], "quick_add");
    let task = &reply["tool_calls"][0]["result"]["task"];
    assert_eq!(task["title"], "Buy bread");
    assert_eq!(task["tags"], json!(["home"]));
    assert_eq!(task["priority"], "high");
    let id = task["id"].as_str().expect("id").to_owned();
    let conversation = reply["conversation_id"].as_str().expect("id").to_owned();
    let say_here = |message: &str| json!({"conversation_id": conversation, "message": message});

    let reply = say(&app, &user, say_here("what should I do today?")).await;
    assert!(reply["reply"].as_str().expect("reply").contains("No language model is configured"), "{reply}");
    assert_eq!(reply["tool_calls"], json!([]));

    let reply = say(&app, &user, say_here("list")).await;
    assert!(reply["reply"].as_str().expect("reply").contains("Buy bread"), "{reply}");

    let reply = say(&app, &user, say_here("done buy bread")).await;
    assert_eq!(reply["tool_calls"][0]["name"], "complete_task");
    let reply = say(&app, &user, say_here("reopen Buy bread")).await;
    assert_eq!(reply["tool_calls"][0]["name"], "reopen_task");

    let reply = say(&app, &user, say_here("delete bread")).await;
    let action = reply["pending_action"]["id"].as_str().expect("a pending action").to_owned();
    assert_eq!(task_status(&app, &user, &id).await, StatusCode::OK);
    let reply = say(&app, &user, json!({"conversation_id": conversation, "confirm": action})).await;
    assert_eq!(reply["tool_calls"][0]["status"], "ok");
    assert_eq!(task_status(&app, &user, &id).await, StatusCode::NOT_FOUND);

    let history = app.task_history(&user, &id).await;
    assert_eq!(history.len(), 4, "created, completed, reopened, deleted");
    for event in &history {
        assert_eq!(event["metadata"]["actor"], "agent");
        assert_eq!(event["metadata"]["conversation_id"], conversation.as_str());
    }

    // The endpoints are in the OpenAPI document.
    let doc: Value = app.client.get(app.url("/openapi.json")).send().await.expect("get").json().await.expect("json");
    for path in ["/api/v1/chat", "/api/v1/conversations", "/api/v1/conversations/{id}"] {
        assert!(doc["paths"][path].is_object(), "{path} is missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["ChatReply"].is_object());

    // Bad requests are problems.
    let response = app.post("/api/v1/chat", &user).json(&json!({"message": "  "})).send().await.expect("request");
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let response = app
        .post("/api/v1/chat", &user)
        .json(&json!({"conversation_id": uuid::Uuid::now_v7().to_string(), "message": "hi"}))
        .send()
        .await
        .expect("request");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app
        .post("/api/v1/chat", &user)
        .header("accept", "text/event-stream")
        .json(&json!({"conversation_id": "nope", "message": "hi"}))
        .send()
        .await
        .expect("request");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app
        .request(reqwest::Method::POST, "/api/v1/chat", None)
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .expect("request");
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_confirmed_change_applies_only_to_the_task_as_the_dry_run_showed_it() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({"title": "Old report"})).await;
    let id = task["id"].as_str().expect("id").to_owned();
    let reply = say(&app, &user, json!({"message": "delete old report"})).await;
    let conversation = reply["conversation_id"].as_str().expect("id").to_owned();
    assert_eq!(reply["pending_action"]["calls"][0]["arguments"]["expected_version"], task["version"]);

    // Someone edits the task before the person confirms.
    let response = app
        .patch(&format!("/api/v1/tasks/{id}"), &user)
        .json(&json!({"title": "Quarterly report"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::OK);

    let reply = say(&app, &user, json!({"conversation_id": conversation, "message": "yes"})).await;
    assert_eq!(reply["tool_calls"][0]["status"], "error");
    assert!(reply["reply"].as_str().expect("reply").contains("could not delete"), "{reply}");
    assert_eq!(task_status(&app, &user, &id).await, StatusCode::OK);
}

#[tokio::test]
async fn conversations_are_listed_newest_first_in_pages() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let reply = say(&app, &user, json!({"message": format!("help {n}")})).await;
        ids.push(reply["conversation_id"].as_str().expect("id").to_owned());
    }
    // Activity in an older conversation reorders the list; paging still returns each one exactly once.
    say(&app, &user, json!({"conversation_id": ids[0], "message": "help"})).await;
    let page: Value =
        app.get("/api/v1/conversations?limit=2", &user).send().await.expect("get").json().await.expect("json");
    let mut seen: Vec<String> =
        page["items"].as_array().expect("items").iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(seen.len(), 2);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let page: Value = app
        .get(&format!("/api/v1/conversations?limit=2&cursor={cursor}"), &user)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(page.get("next_cursor").is_none());
    seen.extend(page["items"].as_array().expect("items").iter().filter_map(|c| c["id"].as_str().map(str::to_owned)));
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every conversation exactly once");
    let response = app.get("/api/v1/conversations?limit=0", &user).send().await.expect("get");
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
}
