//! The account's lifecycle over the API: changing the password ends the
//! account's other sessions; a forgotten one is reset with a token sent by
//! e-mail (to aiosmtpd, as in `email.rs`).
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, spawn_app};

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("request")
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.client.get(app.url("/api/v1/me")).bearer_auth(token).send().await.expect("request").status()
}

fn with_token(user: &TestUser, token: &str) -> TestUser {
    TestUser { token: token.to_owned(), ..user.clone() }
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other_device: Value = login(&app, &user.email, &user.password).await.json().await.unwrap();
    let other_device = other_device["token"].as_str().unwrap().to_owned();
    let api_token: Value = app
        .post("/api/v1/tokens", &user)
        .json(&json!({ "name": "script", "scopes": ["tasks:read"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_token = api_token["token"].as_str().unwrap().to_owned();

    let change = |current: &str, new: &str, as_user: &TestUser| {
        let body = json!({ "current_password": current, "new_password": new });
        app.post("/api/v1/account/password", as_user).json(&body).send()
    };
    let wrong = change("not my password", "a new long password", &user).await.unwrap();
    let problem = assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "current_password", "{problem}");
    let short = change(&user.password, "short", &user).await.unwrap();
    let problem = assert_problem(short, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "new_password", "{problem}");
    let by_token = change(&user.password, "a new long password", &with_token(&user, &api_token)).await.unwrap();
    assert_problem(by_token, StatusCode::FORBIDDEN, "forbidden").await;
    // Nothing changed so far: every credential still works.
    assert_eq!(me_status(&app, &other_device).await, StatusCode::OK);

    let changed = change(&user.password, "a new long password", &user).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(changed.headers().get("set-cookie").is_some_and(|c| c.to_str().unwrap().starts_with("ontask_session=")));
    let session: Value = changed.json().await.unwrap();
    let fresh = session["token"].as_str().unwrap();

    // The session that changed it gets a new one; every session from before has ended.
    assert_eq!(me_status(&app, fresh).await, StatusCode::OK);
    for ended in [&user.token, &other_device] {
        let refused = app.client.get(app.url("/api/v1/me")).bearer_auth(ended).send().await.unwrap();
        let problem = assert_problem(refused, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert!(problem["detail"].as_str().unwrap().contains("password was changed"), "{problem}");
    }
    // API tokens are credentials of their own and stay.
    assert_eq!(me_status(&app, &api_token).await, StatusCode::OK);
    assert_eq!(login(&app, &user.email, &user.password).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, &user.email, "a new long password").await.status(), StatusCode::OK);
}

/// The token in a reset e-mail, with the message's quoted-printable soft line breaks undone.
/// The text of a quoted-printable e-mail, without its soft line breaks.
fn plain(message: &str) -> String {
    message.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

fn reset_token(message: &str) -> String {
    let text = plain(message);
    let at = text.find("otr_").unwrap_or_else(|| panic!("no reset token in {message}"));
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

#[tokio::test]
async fn a_password_reset_e_mails_a_single_use_token_and_says_the_same_for_unknown_addresses() {
    use std::time::Duration;

    use crate::email::SmtpSink;
    use crate::helpers::{eventually, spawn_app_with};

    let sink = SmtpSink::start().await;
    let app = spawn_app_with(|c| {
        c.smtp.url = Some(format!("smtp://127.0.0.1:{}", sink.port).into());
        c.smtp.from = Some("ontask <noreply@ontask.test>".into());
        c.public_url = Some("https://ontask.test".into());
    })
    .await;
    let user = app.new_user().await;
    let ask =
        |email: String| app.client.post(app.url("/api/v1/auth/password-reset")).json(&json!({ "email": email })).send();
    let unknown = ask("nobody@example.com".into()).await.unwrap();
    let known = ask(user.email.to_uppercase()).await.unwrap();
    assert_eq!((unknown.status(), known.status()), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(unknown.text().await.unwrap(), known.text().await.unwrap(), "the same answer either way");

    let messages = eventually(Duration::from_secs(30), "the reset e-mail", || async {
        let messages = sink.messages();
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    let message = &messages[0];
    assert!(message.contains("Subject: Reset your ontask password"), "{message}");
    assert!(message.contains(&format!("To: {}", user.email)), "{message}");
    let token = reset_token(message);
    assert_eq!(token.len(), 4 + 64, "{token}");
    assert!(plain(message).contains("https://ontask.test/api/v1/auth/password-reset/confirm"), "{message}");
    assert!(plain(message).contains(&format!("https://ontask.test/reset-password#{token}")), "{message}");

    let confirm = |token: String, password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/password-reset/confirm"))
            .json(&json!({ "token": token, "new_password": password }))
            .send()
    };
    let wrong = confirm(format!("otr_{}", "0".repeat(64)), "a brand new password").await.unwrap();
    let problem = assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "token", "{problem}");
    let short = confirm(token.clone(), "short").await.unwrap();
    assert_problem(short, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;

    let reset = confirm(token.clone(), "a brand new password").await.unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let session: Value = reset.json().await.unwrap();
    assert_eq!(me_status(&app, session["token"].as_str().unwrap()).await, StatusCode::OK);
    assert_eq!(me_status(&app, &user.token).await, StatusCode::UNAUTHORIZED, "the sessions from before ended");
    assert_eq!(login(&app, &user.email, "a brand new password").await.status(), StatusCode::OK);
    assert_eq!(login(&app, &user.email, &user.password).await.status(), StatusCode::UNAUTHORIZED);

    // Used once, the token is spent.
    let again = confirm(token, "yet another password").await.unwrap();
    assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // Only the known address got an e-mail.
    assert_eq!(sink.messages().len(), 1);

    // The same in the browser's pages: the form asks, the e-mail's link opens
    // the page with the token in its fragment, and the new password signs in.
    let origin = app.address.clone();
    let form = |path: &str, fields: &[(&str, &str)]| {
        app.client.post(app.url(path)).header("Origin", origin.as_str()).form(fields).send()
    };
    let page = app.client.get(app.url("/forgot-password")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Send a reset link"));
    let asked = form("/forgot-password", &[("email", user.email.as_str())]).await.unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains("an e-mail with a reset link is on its way"));
    let messages = eventually(Duration::from_secs(30), "the second reset e-mail", || async {
        let messages = sink.messages();
        (messages.len() == 2).then_some(messages)
    })
    .await;
    let token = reset_token(&messages[1]);
    assert!(plain(&messages[1]).contains(&format!("https://ontask.test/reset-password#{token}")), "{}", messages[1]);
    let page = app.client.get(app.url("/reset-password")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("/assets/reset.js"), "the page reads the token from the fragment");
    let short = form("/reset-password", &[("token", token.as_str()), ("new_password", "short")]).await.unwrap();
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text().await.unwrap().contains(&format!("value=\"{token}\"")), "the token stays for the next try");
    let reset = form("/reset-password", &[("token", token.as_str()), ("new_password", "the browser's password")])
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert!(reset.headers().get("set-cookie").is_some_and(|c| c.to_str().unwrap().starts_with("ontask_session=")));
    assert_eq!(login(&app, &user.email, "the browser's password").await.status(), StatusCode::OK);
}

async fn get_json(app: &TestApp, path: &str, user: &TestUser) -> (StatusCode, Value) {
    let response = app.get(path, user).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn deleting_an_account_deletes_what_is_only_theirs_hands_over_what_is_shared_and_leaves_the_rest() {
    let app = spawn_app().await;
    let (alice, bob, carol, dave) =
        (app.new_user().await, app.new_user().await, app.new_user().await, app.new_user().await);
    // Alice's own project, and her Inbox, with tasks only she has.
    let solo = app.create_project(&alice, "Solo").await;
    let solo_id = solo["id"].as_str().expect("id");
    let private = app.create_task(&alice, json!({ "title": "Diary", "project_id": solo_id })).await;
    app.create_task(&alice, json!({ "title": "In the Inbox" })).await;
    // Her shared project: Carol a viewer who joined first, Bob an editor.
    let garden = app.create_project(&alice, "Garden").await;
    let garden_id = garden["id"].as_str().expect("id");
    app.share(&alice, garden_id, &carol, "viewer").await;
    app.share(&alice, garden_id, &bob, "editor").await;
    let tulips = app.create_task(&alice, json!({ "title": "Plant tulips", "project_id": garden_id })).await;
    // Dave's project, where she is an editor with a task of her own, assigned to her, and a comment.
    let work = app.create_project(&dave, "Work").await;
    let work_id = work["id"].as_str().expect("id");
    app.share(&dave, work_id, &alice, "editor").await;
    let report =
        app.create_task(&alice, json!({ "title": "Report", "project_id": work_id, "assignee_id": alice.id })).await;
    let report_id = report["id"].as_str().expect("id");
    let comment = app
        .post(&format!("/api/v1/tasks/{report_id}/comments"), &alice)
        .json(&json!({ "body": "Draft is in the drive" }))
        .send()
        .await
        .expect("request");
    assert_eq!(comment.status(), StatusCode::CREATED);
    let token: Value = app
        .post("/api/v1/tokens", &alice)
        .json(&json!({ "name": "script", "scopes": ["tasks:read"] }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let token = token["token"].as_str().expect("token").to_owned();

    let delete = |body: Value, as_user: &TestUser| app.delete("/api/v1/account", as_user).json(&body).send();
    let problem = assert_problem(
        delete(json!({}), &alice).await.expect("request"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "password", "{problem}");
    let wrong = delete(json!({ "password": "not it" }), &alice).await.expect("request");
    assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let by_token = delete(json!({ "password": alice.password }), &with_token(&alice, &token)).await.expect("request");
    assert_problem(by_token, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(me_status(&app, &alice.token).await, StatusCode::OK, "nothing happened so far");

    let deleted = delete(json!({ "password": alice.password }), &alice).await.expect("request");
    assert_eq!(deleted.status(), StatusCode::OK);
    let summary: Value = deleted.json().await.expect("json");
    assert_eq!(summary, json!({ "projects_deleted": 2, "projects_handed_over": 1, "projects_left": 1 }));

    // She can no longer sign in by any means, and her address is free again.
    assert_eq!(me_status(&app, &alice.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, &alice.email, &alice.password).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.register(&alice.email, "a brand new password").await.status(), StatusCode::CREATED);

    // Her own things are gone; the garden is Bob's (the editor, not the
    // viewer who joined before him), with its task, and without her.
    assert_eq!(
        get_json(&app, &format!("/api/v1/tasks/{}", private["id"].as_str().expect("id")), &bob).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, members) = get_json(&app, &format!("/api/v1/projects/{garden_id}/members"), &bob).await;
    let roles: Vec<(String, String)> = members["items"]
        .as_array()
        .or(members.as_array())
        .expect("members")
        .iter()
        .map(|m| (m["user_id"].as_str().expect("user_id").to_owned(), m["role"].as_str().expect("role").to_owned()))
        .collect();
    assert_eq!(roles, [(bob.id.clone(), "owner".to_owned()), (carol.id.clone(), "viewer".to_owned())]);
    let (status, kept) = get_json(&app, &format!("/api/v1/tasks/{}", tulips["id"].as_str().expect("id")), &bob).await;
    assert_eq!((status, kept["title"].as_str()), (StatusCode::OK, Some("Plant tulips")));
    // In Dave's project her task and comment stay, unassigned, by a deleted account.
    let (_, report) = get_json(&app, &format!("/api/v1/tasks/{report_id}"), &dave).await;
    assert_eq!((report["title"].as_str(), report["assignee_id"].as_str()), (Some("Report"), None));
    let (_, comments) = get_json(&app, &format!("/api/v1/tasks/{report_id}/comments"), &dave).await;
    let comments = comments["items"].as_array().or(comments.as_array()).cloned().expect("comments");
    assert_eq!(comments[0]["body"], "Draft is in the drive");
    let history = app.task_history(&dave, report_id).await;
    assert_eq!(history.last().expect("history")["event_type"], "task.assigned");

    // Every change was an event: the log rebuilds exactly what the tables hold.
    let (code, out) = crate::eventlog::replay_with(&app.database_args()).await;
    assert_eq!(code, Some(0), "replay: {out}");
    app.stop().await;
}

#[tokio::test]
async fn the_profile_names_the_person_and_its_time_zone_is_where_quick_add_reads_times() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let (_, me) = get_json(&app, "/api/v1/me", &user).await;
    assert_eq!(me["timezone"], Value::Null, "a new account follows its device");
    let patch = |body: Value| app.patch("/api/v1/me", &user).json(&body).send();
    let unknown = patch(json!({ "timezone": "Mars/Olympus" })).await.expect("request");
    let problem = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "timezone", "{problem}");
    let long = patch(json!({ "name": "n".repeat(101) })).await.expect("request");
    assert_problem(long, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;

    let saved: Value = patch(json!({ "name": "  Ada Lovelace ", "timezone": "Asia/Tokyo" }))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!((saved["name"].as_str(), saved["timezone"].as_str()), (Some("Ada Lovelace"), Some("Asia/Tokyo")));
    let (_, me) = get_json(&app, "/api/v1/me", &user).await;
    assert_eq!(me["timezone"], "Asia/Tokyo");
    // Quick add without a zone reads "9am" in Tokyo; a named zone still wins.
    let quick = |body: Value| app.post("/api/v1/tasks/quick", &user).json(&body).send();
    let tokyo: Value =
        quick(json!({ "text": "Call the bank tomorrow 9am" })).await.expect("request").json().await.expect("json");
    assert!(tokyo["due"].as_str().expect("due").ends_with("T09:00:00+09:00[Asia/Tokyo]"), "{tokyo}");
    let lisbon: Value = quick(json!({ "text": "Call mum tomorrow 9am", "timezone": "Europe/Lisbon" }))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(lisbon["due"].as_str().expect("due").contains("[Europe/Lisbon]"), "{lisbon}");

    // `null` follows the device again; a field left out stays.
    let cleared: Value = patch(json!({ "timezone": null })).await.expect("request").json().await.expect("json");
    assert_eq!((cleared["name"].as_str(), cleared["timezone"].as_str()), (Some("Ada Lovelace"), None));
    app.stop().await;
}
