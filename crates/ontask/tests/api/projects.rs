//! Projects and sharing over HTTP: the Inbox, projects and sections, the
//! sharing matrix (owner, editor, viewer, non-member against every endpoint
//! that touches a project), subtasks, assignees, live streams of shared
//! projects, and moving data from before projects.
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::eventlog::LogDb;
use crate::helpers::{TestApp, TestUser, assert_problem, spawn_app};
use crate::realtime::SseClient;

async fn body(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn projects(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let list = body(app.get("/api/v1/projects", user).send().await.expect("request"), StatusCode::OK).await;
    list["items"].as_array().expect("items").clone()
}

async fn titles(app: &TestApp, user: &TestUser, query: &str) -> Vec<String> {
    let page =
        body(app.get(&format!("/api/v1/tasks{query}"), user).send().await.expect("request"), StatusCode::OK).await;
    page["items"].as_array().expect("items").iter().map(|t| t["title"].as_str().expect("title").to_owned()).collect()
}

#[tokio::test]
async fn every_account_has_an_inbox_where_tasks_land_and_projects_of_its_own() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let listed = projects(&app, &alice).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let inbox = &listed[0];
    assert_eq!(
        (inbox["name"].as_str(), inbox["inbox"].as_bool(), inbox["role"].as_str()),
        (Some("Inbox"), Some(true), Some("owner"))
    );
    let task = app.create_task(&alice, json!({ "title": "Somewhere" })).await;
    assert_eq!(task["project_id"], inbox["id"], "no project named: the Inbox");

    let response = app
        .post("/api/v1/projects", &alice)
        .json(&json!({ "name": "Home", "colour": "sky_blue" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    let home = body(response, StatusCode::CREATED).await;
    assert_eq!(location, format!("/api/v1/projects/{}", home["id"].as_str().expect("id")));
    assert_eq!(
        (home["colour"].as_str(), home["colour_hex"].as_str(), home["members"].as_i64()),
        (Some("sky_blue"), Some("#14aaf5"), Some(1))
    );
    let names: Vec<_> =
        projects(&app, &alice).await.iter().map(|p| p["name"].as_str().expect("name").to_owned()).collect();
    assert_eq!(names, ["Inbox", "Home"], "the Inbox first");

    let bad = app
        .post("/api/v1/projects", &alice)
        .json(&json!({ "name": " ", "colour": "plaid" }))
        .send()
        .await
        .expect("request");
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let fields: Vec<_> =
        problem["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field")).collect();
    assert_eq!(fields, ["name", "colour"]);
    let inbox_path = format!("/api/v1/projects/{}", inbox["id"].as_str().expect("id"));
    let rename = app.patch(&inbox_path, &alice).json(&json!({ "name": "Mine" })).send().await.expect("request");
    assert_problem(rename, StatusCode::CONFLICT, "conflict").await;
    let delete = app.delete(&format!("{inbox_path}?tasks=delete"), &alice).send().await.expect("request");
    assert_problem(delete, StatusCode::CONFLICT, "conflict").await;

    // Quick add names a project with ##, whatever its case and spacing.
    let home_id = home["id"].as_str().expect("id");
    let quick = app
        .post("/api/v1/tasks/quick", &alice)
        .json(&json!({ "text": "Water plants ##HOME #green" }))
        .send()
        .await
        .expect("request");
    let quick = body(quick, StatusCode::CREATED).await;
    assert_eq!((quick["title"].as_str(), quick["project_id"].as_str()), (Some("Water plants"), Some(home_id)));
    assert_eq!(quick["tags"], json!(["green"]));
    let unknown =
        app.post("/api/v1/tasks/quick", &alice).json(&json!({ "text": "x ##nowhere" })).send().await.expect("request");
    let problem = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "project");
    let preview = app
        .post("/api/v1/tasks/quick?preview=true", &alice)
        .json(&json!({ "text": "x ##nowhere" }))
        .send()
        .await
        .expect("request");
    let preview = body(preview, StatusCode::OK).await;
    assert_eq!((preview["valid"].as_bool(), preview["project"].as_str()), (Some(false), Some("nowhere")));
    let delete = app
        .delete(&format!("/api/v1/tasks/{}", quick["id"].as_str().expect("id")), &alice)
        .send()
        .await
        .expect("request");
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);

    // Tasks in a project; archiving takes them off the lists, read-only.
    app.create_task(&alice, json!({ "title": "Fix the tap", "project_id": home_id })).await;
    assert_eq!(titles(&app, &alice, &format!("?project={home_id}")).await, ["Fix the tap"]);
    let home_path = format!("/api/v1/projects/{home_id}");
    body(app.post(&format!("{home_path}/archive"), &alice).send().await.expect("request"), StatusCode::OK).await;
    assert_eq!(titles(&app, &alice, "").await, ["Somewhere"]);
    assert_eq!(titles(&app, &alice, &format!("?project={home_id}")).await, ["Fix the tap"], "still readable");
    let refused = app
        .post("/api/v1/tasks", &alice)
        .json(&json!({ "title": "x", "project_id": home_id }))
        .send()
        .await
        .expect("request");
    assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    let archived =
        body(app.get("/api/v1/projects?archived=true", &alice).send().await.expect("request"), StatusCode::OK).await;
    assert_eq!(archived["items"][0]["id"], home_id);
    body(app.post(&format!("{home_path}/unarchive"), &alice).send().await.expect("request"), StatusCode::OK).await;

    // Deleting says what becomes of the tasks.
    let unsaid = app.delete(&home_path, &alice).send().await.expect("request");
    assert_problem(unsaid, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let deleted = app.delete(&format!("{home_path}?tasks=move_to_inbox"), &alice).send().await.expect("request");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let mut left = titles(&app, &alice, "").await;
    left.sort();
    assert_eq!(left, ["Fix the tap", "Somewhere"], "moved to the Inbox, nothing lost");
    assert_problem(app.get(&home_path, &alice).send().await.expect("request"), StatusCode::NOT_FOUND, "not-found")
        .await;
    app.stop().await;
}

/// What each role gets from one request.
struct Expect {
    method: Method,
    path: String,
    body: Option<Value>,
    /// owner, editor, viewer, non-member
    status: [u16; 4],
}

fn expect(method: Method, path: impl Into<String>, body: Option<Value>, status: [u16; 4]) -> Expect {
    Expect { method, path: path.into(), body, status }
}

#[tokio::test]
async fn the_sharing_matrix_owner_editor_viewer_and_stranger() {
    let app = spawn_app().await;
    let [owner, editor, viewer, stranger, newcomer] =
        [app.new_user().await, app.new_user().await, app.new_user().await, app.new_user().await, app.new_user().await];
    let project = app.create_project(&owner, "Team").await;
    let p = project["id"].as_str().expect("id").to_owned();
    app.share(&owner, &p, &editor, "editor").await;
    app.share(&owner, &p, &viewer, "viewer").await;
    let section = body(
        app.post(&format!("/api/v1/projects/{p}/sections"), &owner)
            .json(&json!({ "name": "Doing" }))
            .send()
            .await
            .expect("request"),
        StatusCode::CREATED,
    )
    .await;
    let s = section["id"].as_str().expect("id").to_owned();
    let task = app.create_task(&owner, json!({ "title": "Shared", "project_id": p, "section_id": s })).await;
    let t = task["id"].as_str().expect("id").to_owned();

    let matrix = [
        expect(Method::GET, format!("/api/v1/projects/{p}"), None, [200, 200, 200, 404]),
        expect(Method::PATCH, format!("/api/v1/projects/{p}"), Some(json!({ "colour": "red" })), [200, 403, 403, 404]),
        expect(Method::GET, format!("/api/v1/projects/{p}/sections"), None, [200, 200, 200, 404]),
        expect(
            Method::POST,
            format!("/api/v1/projects/{p}/sections"),
            Some(json!({ "name": "Later" })),
            [201, 201, 403, 404],
        ),
        expect(Method::PATCH, format!("/api/v1/sections/{s}"), Some(json!({ "position": 7 })), [200, 200, 403, 404]),
        expect(Method::GET, format!("/api/v1/projects/{p}/members"), None, [200, 200, 200, 404]),
        expect(Method::GET, format!("/api/v1/projects/{p}/activity"), None, [200, 200, 200, 404]),
        expect(Method::GET, format!("/api/v1/tasks?project={p}"), None, [200, 200, 200, 404]),
        expect(Method::GET, format!("/api/v1/tasks/{t}"), None, [200, 200, 200, 404]),
        expect(Method::GET, format!("/api/v1/tasks/{t}/history"), None, [200, 200, 200, 404]),
        expect(Method::GET, format!("/api/v1/tasks/{t}/subtasks"), None, [200, 200, 200, 404]),
        expect(Method::PATCH, format!("/api/v1/tasks/{t}"), Some(json!({ "priority": "high" })), [200, 200, 403, 404]),
        expect(Method::POST, format!("/api/v1/tasks/{t}/complete"), None, [200, 200, 403, 404]),
        expect(Method::POST, format!("/api/v1/tasks/{t}/reopen"), None, [200, 200, 403, 404]),
        expect(Method::POST, "/api/v1/tasks", Some(json!({ "title": "New", "project_id": p })), [201, 201, 403, 404]),
        expect(Method::POST, "/api/v1/tasks", Some(json!({ "title": "Sub", "parent_id": t })), [201, 201, 403, 422]),
        expect(Method::POST, format!("/api/v1/projects/{p}/archive"), None, [200, 403, 403, 404]),
        expect(Method::POST, format!("/api/v1/projects/{p}/unarchive"), None, [200, 403, 403, 404]),
        expect(
            Method::POST,
            format!("/api/v1/projects/{p}/members"),
            Some(json!({ "email": newcomer.email, "role": "viewer" })),
            // The others try first: refused without a trace; then the owner.
            [201, 403, 403, 404],
        ),
    ];
    for case in &matrix {
        // The owner goes last, so a refused attempt cannot hide behind a change.
        for (who, user) in [(1, &editor), (2, &viewer), (3, &stranger), (0, &owner)] {
            let mut request = app.request(case.method.clone(), &case.path, Some(user));
            if let Some(json) = &case.body {
                request = request.json(json);
            }
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            assert_eq!(status, case.status[who], "{} {} as role #{who}: {text}", case.method, case.path);
        }
    }
    // What a stranger gets is what a project that does not exist gets.
    let missing =
        app.get(&format!("/api/v1/projects/{}", uuid::Uuid::now_v7()), &stranger).send().await.expect("request");
    let foreign = app.get(&format!("/api/v1/projects/{p}"), &stranger).send().await.expect("request");
    assert_eq!(
        assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await,
        assert_problem(foreign, StatusCode::NOT_FOUND, "not-found").await
    );
    let why = assert_problem(
        app.patch(&format!("/api/v1/tasks/{t}"), &viewer)
            .json(&json!({ "title": "mine" }))
            .send()
            .await
            .expect("request"),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(why["detail"].as_str().expect("detail").contains("viewer"), "{why}");

    // Every member's default list shows the shared tasks; nobody else's does.
    for user in [&owner, &editor, &viewer] {
        assert!(titles(&app, user, "").await.contains(&"Shared".to_owned()));
    }
    assert!(titles(&app, &stranger, "").await.is_empty());
    let members =
        body(app.get(&format!("/api/v1/projects/{p}/members"), &viewer).send().await.expect("request"), StatusCode::OK)
            .await;
    let roles: Vec<_> =
        members["items"].as_array().expect("items").iter().map(|m| m["role"].as_str().expect("role")).collect();
    assert_eq!(roles, ["owner", "editor", "viewer", "viewer"]);
    let listed = projects(&app, &viewer).await;
    let team = listed.iter().find(|x| x["id"] == p.as_str()).expect("shared project listed");
    assert_eq!((team["role"].as_str(), team["members"].as_i64()), (Some("viewer"), Some(4)));

    // Deleting: a task, by editors and the owner; the project, by its owner alone.
    for (user, status) in [(&viewer, 403), (&stranger, 404)] {
        let response = app.delete(&format!("/api/v1/tasks/{t}"), user).send().await.expect("request");
        assert_eq!(response.status().as_u16(), status);
    }
    for (user, status) in [(&editor, 403), (&viewer, 403), (&stranger, 404)] {
        let response = app.delete(&format!("/api/v1/projects/{p}?tasks=delete"), user).send().await.expect("request");
        assert_eq!(response.status().as_u16(), status);
    }
    let response = app.delete(&format!("/api/v1/tasks/{t}"), &editor).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let activity = body(
        app.get(&format!("/api/v1/projects/{p}/activity?limit=3"), &viewer).send().await.expect("request"),
        StatusCode::OK,
    )
    .await;
    let newest = activity["items"].as_array().expect("items");
    assert_eq!(newest.len(), 3);
    assert_eq!(newest[0]["event_type"], "task.deleted", "newest first");
    assert_eq!(newest[0]["user_id"], editor.id.as_str(), "who did it");
    let before = activity["next_before"].as_i64().expect("another page");
    let older = body(
        app.get(&format!("/api/v1/projects/{p}/activity?before={before}&limit=200"), &viewer)
            .send()
            .await
            .expect("request"),
        StatusCode::OK,
    )
    .await;
    assert!(older["items"].as_array().expect("items").iter().all(|e| e["seq"].as_i64() < Some(before)));
    assert_eq!(older["items"].as_array().expect("items").last().expect("first")["event_type"], "project.created");
    let gone = app.delete(&format!("/api/v1/projects/{p}?tasks=delete"), &owner).send().await.expect("request");
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    for user in [&editor, &viewer] {
        assert!(titles(&app, user, "").await.is_empty(), "the deleted project's tasks are gone for every member");
        assert_problem(
            app.get(&format!("/api/v1/tasks/{t}"), user).send().await.expect("request"),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn members_change_roles_leave_and_the_owner_hands_over() {
    let app = spawn_app().await;
    let [alice, bob, carol] = [app.new_user().await, app.new_user().await, app.new_user().await];
    let p = app.create_project(&alice, "Trip").await["id"].as_str().expect("id").to_owned();
    app.share(&alice, &p, &bob, "viewer").await;
    app.share(&alice, &p, &carol, "editor").await;
    let again = app
        .post(&format!("/api/v1/projects/{p}/members"), &alice)
        .json(&json!({ "email": bob.email, "role": "editor" }))
        .send()
        .await
        .expect("request");
    assert_problem(again, StatusCode::CONFLICT, "conflict").await;
    let nobody = app
        .post(&format!("/api/v1/projects/{p}/members"), &alice)
        .json(&json!({ "email": "nobody@example.com", "role": "editor" }))
        .send()
        .await
        .expect("request");
    let problem = assert_problem(nobody, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert!(problem["errors"][0]["message"].as_str().expect("message").contains("sign up"), "{problem}");
    let owner_role = app
        .post(&format!("/api/v1/projects/{p}/members"), &alice)
        .json(&json!({ "email": bob.email, "role": "owner" }))
        .send()
        .await
        .expect("request");
    assert_problem(owner_role, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;

    // Promoted, a viewer may edit.
    let promoted = app
        .patch(&format!("/api/v1/projects/{p}/members/{}", bob.id), &alice)
        .json(&json!({ "role": "editor" }))
        .send()
        .await
        .expect("request");
    assert_eq!(body(promoted, StatusCode::OK).await["role"], "editor");
    let task =
        app.create_task(&bob, json!({ "title": "Book the train", "project_id": p, "assignee_id": carol.id })).await;
    assert_eq!(task["assignee_id"], carol.id.as_str());
    assert_eq!(titles(&app, &carol, "?assignee=me").await, ["Book the train"]);
    let stranger = app.new_user().await;
    let refused = app
        .patch(&format!("/api/v1/tasks/{}", task["id"].as_str().expect("id")), &bob)
        .json(&json!({ "assignee_id": stranger.id }))
        .send()
        .await
        .expect("request");
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;

    // Carol leaves: her tasks there are unassigned, and the project is gone for her.
    let left = app.delete(&format!("/api/v1/projects/{p}/members/me"), &carol).send().await.expect("request");
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(&format!("/api/v1/projects/{p}"), &carol).send().await.expect("request"),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let task = body(
        app.get(&format!("/api/v1/tasks/{}", task["id"].as_str().expect("id")), &bob).send().await.expect("request"),
        StatusCode::OK,
    )
    .await;
    assert!(task.get("assignee_id").is_none_or(Value::is_null), "{task}");

    // The owner cannot leave; they hand over and stay as an editor.
    let stay = app.delete(&format!("/api/v1/projects/{p}/members/me"), &alice).send().await.expect("request");
    assert_problem(stay, StatusCode::CONFLICT, "conflict").await;
    let handed = app
        .post(&format!("/api/v1/projects/{p}/transfer"), &alice)
        .json(&json!({ "user_id": bob.id }))
        .send()
        .await
        .expect("request");
    let handed = body(handed, StatusCode::OK).await;
    assert_eq!((handed["owner_id"].as_str(), handed["role"].as_str()), (Some(bob.id.as_str()), Some("editor")));
    let renamed = app
        .patch(&format!("/api/v1/projects/{p}"), &alice)
        .json(&json!({ "name": "Alice's now?" }))
        .send()
        .await
        .expect("request");
    assert_problem(renamed, StatusCode::FORBIDDEN, "forbidden").await;
    let removed =
        app.delete(&format!("/api/v1/projects/{p}/members/{}", alice.id), &bob).send().await.expect("request");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert!(titles(&app, &alice, "").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn subtasks_nest_four_deep_complete_with_their_parent_and_move_with_it() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let root = app.create_task(&alice, json!({ "title": "Move house" })).await;
    let mut chain = vec![root.clone()];
    for level in 1..=4 {
        let parent = chain.last().expect("parent")["id"].as_str().expect("id").to_owned();
        chain.push(app.create_task(&alice, json!({ "title": format!("level {level}"), "parent_id": parent })).await);
    }
    let deepest = chain[4]["id"].as_str().expect("id");
    let too_deep = app
        .post("/api/v1/tasks", &alice)
        .json(&json!({ "title": "level 5", "parent_id": deepest }))
        .send()
        .await
        .expect("request");
    let problem = assert_problem(too_deep, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "parent_id");
    let root_id = root["id"].as_str().expect("id");
    let sibling = app.create_task(&alice, json!({ "title": "Pack books", "parent_id": root_id })).await;
    let children = body(
        app.get(&format!("/api/v1/tasks/{root_id}/subtasks"), &alice).send().await.expect("request"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(children["items"].as_array().expect("items").len(), 2);
    assert_eq!(titles(&app, &alice, "?parent=none").await, ["Move house"]);
    let level1 = chain[1]["id"].as_str().expect("id");
    let cycle = app
        .patch(&format!("/api/v1/tasks/{root_id}"), &alice)
        .json(&json!({ "parent_id": deepest }))
        .send()
        .await
        .expect("request");
    assert_problem(cycle, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let deeper = app
        .patch(&format!("/api/v1/tasks/{level1}"), &alice)
        .json(&json!({ "parent_id": sibling["id"] }))
        .send()
        .await
        .expect("request");
    assert_problem(deeper, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;

    // Completing the parent completes every open subtask, one event each.
    body(app.post(&format!("/api/v1/tasks/{root_id}/complete"), &alice).send().await.expect("request"), StatusCode::OK)
        .await;
    assert!(titles(&app, &alice, "?status=open").await.is_empty());
    // Reopening the deepest reopens the chain above it, not the sibling.
    body(app.post(&format!("/api/v1/tasks/{deepest}/reopen"), &alice).send().await.expect("request"), StatusCode::OK)
        .await;
    let mut open = titles(&app, &alice, "?status=open").await;
    open.sort();
    assert_eq!(open, ["Move house", "level 1", "level 2", "level 3", "level 4"]);
    let history = app.task_history(&alice, level1).await;
    let kinds: Vec<_> = history.iter().map(|e| e["event_type"].as_str().expect("type")).collect();
    assert_eq!(kinds, ["task.created", "task.completed", "task.reopened"]);

    // Moving the parent to another project moves the tree.
    let other = app.create_project(&alice, "New place").await;
    let moved = app
        .patch(&format!("/api/v1/tasks/{root_id}"), &alice)
        .json(&json!({ "project_id": other["id"] }))
        .send()
        .await
        .expect("request");
    assert_eq!(body(moved, StatusCode::OK).await["project_id"], other["id"]);
    let in_other = titles(&app, &alice, &format!("?project={}", other["id"].as_str().expect("id"))).await;
    assert_eq!(in_other.len(), 6, "{in_other:?}");
    let history = app.task_history(&alice, deepest).await;
    assert_eq!(history.last().expect("event")["event_type"], "task.moved");
    assert_eq!(history.last().expect("event")["data"]["from"]["project_id"], root["project_id"]);

    // Deleting the parent deletes the tree.
    let gone = app.delete(&format!("/api/v1/tasks/{root_id}"), &alice).send().await.expect("request");
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert!(titles(&app, &alice, "").await.is_empty());
    app.stop().await;
}

/// The next event of `kind` on the stream, skipping others.
async fn skip_to(stream: &mut SseClient, kind: &str) -> crate::realtime::SseEvent {
    loop {
        let event = stream.next().await.expect("the stream goes on");
        if event.event.as_deref() == Some(kind) {
            return event;
        }
    }
}

#[tokio::test]
async fn a_members_stream_gets_the_others_changes_and_stops_at_once_when_removed() {
    let app = spawn_app().await;
    let [alice, bob] = [app.new_user().await, app.new_user().await];
    let p = app.create_project(&alice, "Shared").await["id"].as_str().expect("id").to_owned();
    // Bob's stream, open before he is a member of anything of Alice's.
    let mut stream = SseClient::open(app.get("/api/v1/stream", &bob)).await;
    app.share(&alice, &p, &bob, "editor").await;
    let added = skip_to(&mut stream, "member.added").await;
    assert_eq!(added.data["data"]["member"]["user_id"], bob.id.as_str());
    let task = app.create_task(&alice, json!({ "title": "Alice's change", "project_id": p })).await;
    let created = skip_to(&mut stream, "task.created").await;
    assert_eq!(created.data["data"]["task"]["id"], task["id"]);
    assert_eq!(created.data["user_id"], alice.id.as_str(), "whose change it was");

    let removed =
        app.delete(&format!("/api/v1/projects/{p}/members/{}", bob.id), &alice).send().await.expect("request");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(skip_to(&mut stream, "member.removed").await.data["data"]["member"]["user_id"], bob.id.as_str());
    app.create_task(&alice, json!({ "title": "After Bob left", "project_id": p })).await;
    let own = app.create_task(&bob, json!({ "title": "Bob's own" })).await;
    // The next task event Bob gets is his own: Alice's second one was not sent.
    let next = skip_to(&mut stream, "task.created").await;
    assert_eq!(next.data["data"]["task"]["id"], own["id"]);
    app.stop().await;
}

#[tokio::test]
async fn tasks_from_before_projects_move_into_an_inbox_with_events_and_replay_still_agrees() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let first = app.create_task(&alice, json!({ "title": "Old one", "tags": ["x"] })).await;
    app.create_task(&alice, json!({ "title": "Old two" })).await;
    // Put the data back as a version before projects left it: no projects,
    // no project events, tasks without one.
    let app = app
        .restart(async |app: &TestApp| {
            let db = LogDb::writable_of(app).await;
            db.execute("UPDATE tasks SET project_id = NULL").await;
            db.execute("UPDATE events SET project_id = NULL").await;
            db.execute("DELETE FROM project_members").await;
            db.execute("DELETE FROM projects").await;
            db.execute("DELETE FROM events WHERE event_type LIKE 'project.%'").await;
            db.close().await;
        })
        .await;
    let listed = projects(&app, &alice).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["inbox"], true);
    let mut all = titles(&app, &alice, "").await;
    all.sort();
    assert_eq!(all, ["Old one", "Old two"]);
    let history = app.task_history(&alice, first["id"].as_str().expect("id")).await;
    let moved = history.last().expect("event");
    assert_eq!(moved["event_type"], "task.moved");
    assert_eq!(moved["metadata"]["actor"], "system:migration");
    assert_eq!(moved["data"]["task"]["project_id"], listed[0]["id"]);
    let (code, out) = crate::eventlog::replay_with(&app.database_args()).await;
    assert_eq!(code, Some(0), "replay: {out}");
    assert!(out.contains("into 2 tasks and 1 projects"), "{out}");
    app.stop().await;
}

#[tokio::test]
async fn comments_mention_members_and_only_their_author_changes_them() {
    let app = spawn_app().await;
    let [alice, bob, carol, stranger] =
        [app.new_user().await, app.new_user().await, app.new_user().await, app.new_user().await];
    let p = app.create_project(&alice, "Talk").await["id"].as_str().expect("id").to_owned();
    app.share(&alice, &p, &bob, "editor").await;
    app.share(&alice, &p, &carol, "viewer").await;
    let task = app.create_task(&alice, json!({ "title": "Plan the party", "project_id": p })).await;
    let t = task["id"].as_str().expect("id");
    let alice_handle = alice.email.split('@').next().expect("local part");
    let text = format!("Can you book it, @{alice_handle}? **Friday**");
    let added = app
        .post(&format!("/api/v1/tasks/{t}/comments"), &bob)
        .json(&json!({ "body": text }))
        .send()
        .await
        .expect("request");
    let comment = body(added, StatusCode::CREATED).await;
    assert_eq!(comment["mentioned"], json!([alice.id]));
    assert_eq!((comment["author_id"].as_str(), comment["edited"].as_bool()), (Some(bob.id.as_str()), Some(false)));
    let c = comment["id"].as_str().expect("id");
    let viewer = app
        .post(&format!("/api/v1/tasks/{t}/comments"), &carol)
        .json(&json!({ "body": "me too" }))
        .send()
        .await
        .expect("request");
    assert_problem(viewer, StatusCode::FORBIDDEN, "forbidden").await;
    let empty = app
        .post(&format!("/api/v1/tasks/{t}/comments"), &bob)
        .json(&json!({ "body": "  " }))
        .send()
        .await
        .expect("request");
    assert_problem(empty, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let listed =
        body(app.get(&format!("/api/v1/tasks/{t}/comments"), &carol).send().await.expect("request"), StatusCode::OK)
            .await;
    assert_eq!(listed["items"][0]["body"], text.as_str());
    let hidden = app.get(&format!("/api/v1/tasks/{t}/comments"), &stranger).send().await.expect("request");
    assert_problem(hidden, StatusCode::NOT_FOUND, "not-found").await;

    // Alice is notified of the mention; Bob of the task Alice assigns him.
    let assigned = app
        .patch(&format!("/api/v1/tasks/{t}"), &alice)
        .json(&json!({ "assignee_id": bob.id }))
        .send()
        .await
        .expect("request");
    body(assigned, StatusCode::OK).await;
    for (user, kind) in [(&alice, "mention"), (&bob, "assigned")] {
        crate::helpers::eventually(std::time::Duration::from_secs(30), "the notification", || async {
            let list = body(app.get("/api/v1/notifications", user).send().await.ok()?, StatusCode::OK).await;
            let items = list["items"].as_array()?.clone();
            items.iter().any(|n| n["kind"] == kind && n["task_id"] == t).then_some(())
        })
        .await;
    }

    // Only the author edits; the author or the owner deletes.
    let theirs = app
        .patch(&format!("/api/v1/comments/{c}"), &alice)
        .json(&json!({ "body": "rewritten" }))
        .send()
        .await
        .expect("request");
    assert_problem(theirs, StatusCode::FORBIDDEN, "forbidden").await;
    let edited = app
        .patch(&format!("/api/v1/comments/{c}"), &bob)
        .json(&json!({ "body": "Booked." }))
        .send()
        .await
        .expect("request");
    let edited = body(edited, StatusCode::OK).await;
    assert_eq!((edited["edited"].as_bool(), edited["version"].as_i64()), (Some(true), Some(2)));
    let by_viewer = app.delete(&format!("/api/v1/comments/{c}"), &carol).send().await.expect("request");
    assert_problem(by_viewer, StatusCode::FORBIDDEN, "forbidden").await;
    let by_owner = app.delete(&format!("/api/v1/comments/{c}"), &alice).send().await.expect("request");
    assert_eq!(by_owner.status(), StatusCode::NO_CONTENT);
    let kinds: Vec<String> =
        body(app.get(&format!("/api/v1/projects/{p}/activity"), &carol).send().await.expect("request"), StatusCode::OK)
            .await["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["event_type"].as_str().expect("type").to_owned())
            .collect();
    assert_eq!(&kinds[..3], ["comment.deleted", "comment.edited", "task.assigned"]);
    app.stop().await;
}
