//! The chat agent with projects and sharing: the model is offered the project
//! tools, and deleting a project or removing a member waits for the person's
//! confirmation like deleting a task, after a dry run that reads through the
//! same policy (so a change the person may not make is refused, not proposed).
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{FakeModel, Step, app_with_model, say};
use crate::helpers::{TestApp, TestUser};

async fn project_status(app: &TestApp, user: &TestUser, id: &str) -> StatusCode {
    app.get(&format!("/api/v1/projects/{id}"), user).send().await.expect("request").status()
}

async fn task_status(app: &TestApp, user: &TestUser, id: &str) -> StatusCode {
    app.get(&format!("/api/v1/tasks/{id}"), user).send().await.expect("request").status()
}

/// The owner's "Garden" project, shared with Sam as an editor, with one task
/// ("Plant tulips"), and a chat agent with a scripted model.
struct Garden {
    model: FakeModel,
    app: TestApp,
    owner: TestUser,
    sam: TestUser,
    garden: String,
    task_id: String,
}

async fn garden_shared_with_sam() -> Garden {
    let model = FakeModel::default();
    let app = app_with_model(&model, |_| {}).await;
    let owner = app.new_user().await;
    let sam = app.new_user().await;
    let garden = app.create_project(&owner, "Garden").await["id"].as_str().expect("id").to_owned();
    app.share(&owner, &garden, &sam, "editor").await;
    let task = app.create_task(&owner, json!({ "title": "Plant tulips", "project_id": garden })).await;
    let task_id = task["id"].as_str().expect("id").to_owned();
    Garden { model, app, owner, sam, garden, task_id }
}

#[tokio::test]
async fn removing_a_member_and_deleting_a_project_wait_for_confirmation() {
    let Garden { model, app, owner, sam, garden, task_id } = garden_shared_with_sam().await;

    // Removing Sam: proposed with who and from what, not applied.
    let (project, user) = (garden.clone(), sam.id.clone());
    model.then(move |_| Step::Calls(vec![("remove_member", json!({ "project_id": project, "user_id": user }))]));
    let reply = say(&app, &owner, json!({ "message": "Take Sam off the garden project" })).await;
    let conversation = reply["conversation_id"].as_str().expect("conversation").to_owned();
    let offered: Vec<String> = model.requests()[0]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect();
    for name in ["list_projects", "share_project", "remove_member", "delete_project", "move_task", "assign_task"] {
        assert!(offered.iter().any(|o| o == name), "{name} is not offered: {offered:?}");
    }
    assert_eq!(reply["tool_calls"][0]["status"], "proposed", "{reply}");
    let summary = reply["pending_action"]["summary"].as_str().expect("summary");
    assert!(summary.contains(&format!("remove {} from the project \"Garden\"", sam.email)), "{summary}");
    assert_eq!(project_status(&app, &sam, &garden).await, StatusCode::OK, "nothing changes before yes");

    let asked = model.requests().len();
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "yes" })).await;
    assert_eq!(model.requests().len(), asked, "confirming does not ask the model");
    assert_eq!(reply["tool_calls"][0]["status"], "ok", "{reply}");
    assert!(reply["reply"].as_str().expect("reply").contains("removed"), "{reply}");
    assert_eq!(project_status(&app, &sam, &garden).await, StatusCode::NOT_FOUND);
    // The project's activity tells who did it: the agent, in this conversation.
    let activity: Value = app
        .get(&format!("/api/v1/projects/{garden}/activity?limit=1"), &owner)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let removed = &activity["items"][0];
    assert_eq!(removed["event_type"], "member.removed", "{activity}");
    assert_eq!(removed["metadata"]["actor"], "agent");
    assert_eq!(removed["metadata"]["conversation_id"], conversation.as_str());

    // Deleting the project: the choice for its tasks is in the summary; "no" cancels.
    let project = garden.clone();
    model.then(move |_| Step::Calls(vec![("delete_project", json!({ "id": project, "tasks": "delete" }))]));
    let body = json!({ "conversation_id": conversation, "message": "Delete the garden project and its tasks" });
    let reply = say(&app, &owner, body).await;
    assert_eq!(reply["tool_calls"][0]["status"], "proposed", "{reply}");
    let summary = reply["pending_action"]["summary"].as_str().expect("summary");
    assert!(summary.contains("delete the project \"Garden\"") && summary.contains("and its tasks"), "{summary}");
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "no" })).await;
    assert!(reply["reply"].as_str().expect("reply").contains("Cancelled"), "{reply}");
    assert_eq!(project_status(&app, &owner, &garden).await, StatusCode::OK);
    assert_eq!(task_status(&app, &owner, &task_id).await, StatusCode::OK);

    // Asked again and confirmed: the project and its task are gone, by the agent.
    let project = garden.clone();
    model.then(move |_| Step::Calls(vec![("delete_project", json!({ "id": project, "tasks": "delete" }))]));
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "Delete it after all" })).await;
    let action = reply["pending_action"]["id"].as_str().expect("a pending action").to_owned();
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "confirm": action })).await;
    assert!(reply["reply"].as_str().expect("reply").contains("deleted the project \"Garden\""), "{reply}");
    assert_eq!(project_status(&app, &owner, &garden).await, StatusCode::NOT_FOUND);
    assert_eq!(task_status(&app, &owner, &task_id).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_held_change_the_person_may_not_make_is_refused_by_the_dry_run_not_proposed() {
    let model = FakeModel::default();
    let app = app_with_model(&model, |_| {}).await;
    let owner = app.new_user().await;
    let viewer = app.new_user().await;
    let stranger = app.new_user().await;
    let garden = app.create_project(&owner, "Garden").await["id"].as_str().expect("id").to_owned();
    app.share(&owner, &garden, &viewer, "viewer").await;
    let task = app.create_task(&owner, json!({ "title": "Plant tulips", "project_id": garden })).await;
    let task_id = task["id"].as_str().expect("id").to_owned();

    // A viewer's deletes are forbidden, with the reason; nothing waits for a yes.
    let (project, id) = (garden.clone(), task_id.clone());
    model.then(move |_| {
        Step::Calls(vec![
            ("delete_project", json!({ "id": project, "tasks": "move_to_inbox" })),
            ("delete_task", json!({ "id": id })),
        ])
    });
    model.then(|_| Step::Text("You may only read that project."));
    let reply = say(&app, &viewer, json!({ "message": "Delete the garden project and the tulips" })).await;
    let calls = reply["tool_calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 2, "{reply}");
    for call in calls {
        assert_eq!(call["status"], "error", "{reply}");
        let error = call["error"].as_str().expect("error");
        assert!(error.contains("you are a viewer of this project"), "{error}");
    }
    assert!(reply.get("pending_action").is_none(), "{reply}");

    // Someone who is not a member is told the project does not exist.
    let (project, user) = (garden.clone(), viewer.id.clone());
    model.then(move |_| Step::Calls(vec![("remove_member", json!({ "project_id": project, "user_id": user }))]));
    model.then(|_| Step::Text("I cannot find that project."));
    let reply = say(&app, &stranger, json!({ "message": "Remove them from the garden" })).await;
    assert_eq!(reply["tool_calls"][0]["status"], "error", "{reply}");
    assert!(reply["tool_calls"][0]["error"].as_str().expect("error").starts_with("not found"), "{reply}");
    assert!(reply.get("pending_action").is_none(), "{reply}");

    assert_eq!(project_status(&app, &owner, &garden).await, StatusCode::OK);
    assert_eq!(project_status(&app, &viewer, &garden).await, StatusCode::OK);
    assert_eq!(task_status(&app, &owner, &task_id).await, StatusCode::OK);
}

#[tokio::test]
async fn a_move_is_applied_at_once_and_deleting_a_section_is_held() {
    let model = FakeModel::default();
    let app = app_with_model(&model, |_| {}).await;
    let owner = app.new_user().await;
    let garden = app.create_project(&owner, "Garden").await["id"].as_str().expect("id").to_owned();
    let response = app
        .post(&format!("/api/v1/projects/{garden}/sections"), &owner)
        .json(&json!({ "name": "Doing" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let section: Value = response.json().await.expect("json");
    let section_id = section["id"].as_str().expect("id").to_owned();
    let task = app.create_task(&owner, json!({ "title": "Plant tulips" })).await;
    let task_id = task["id"].as_str().expect("id").to_owned();

    let (id, project, into) = (task_id.clone(), garden.clone(), section_id.clone());
    model.then(move |_| {
        Step::Calls(vec![("move_task", json!({ "id": id, "project_id": project, "section_id": into }))])
    });
    model.then(|_| Step::Text("Moved."));
    let reply = say(&app, &owner, json!({ "message": "Put the tulips into Doing in Garden" })).await;
    assert_eq!(reply["tool_calls"][0]["status"], "ok", "{reply}");
    assert_eq!(reply["tool_calls"][0]["result"]["task"]["section_id"], section_id.as_str());
    let conversation = reply["conversation_id"].as_str().expect("conversation").to_owned();

    let into = section_id.clone();
    model.then(move |_| Step::Calls(vec![("delete_section", json!({ "id": into }))]));
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "Drop the Doing column" })).await;
    let summary = reply["pending_action"]["summary"].as_str().expect("a pending action");
    assert!(summary.contains("delete the section \"Doing\"") && summary.contains("\"Garden\""), "{summary}");
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "yes" })).await;
    assert_eq!(reply["tool_calls"][0]["status"], "ok", "{reply}");
    let moved: Value =
        app.get(&format!("/api/v1/tasks/{task_id}"), &owner).send().await.expect("get").json().await.expect("json");
    assert_eq!(moved["project_id"], garden.as_str());
    assert_eq!(moved["section_id"], Value::Null, "the task stays in the project, in no section");
}

#[tokio::test]
async fn handing_a_project_over_and_deleting_a_comment_wait_for_confirmation() {
    let Garden { model, app, owner, sam, garden, task_id } = garden_shared_with_sam().await;
    let response = app
        .post(&format!("/api/v1/tasks/{task_id}/comments"), &owner)
        .json(&json!({ "body": "Bulbs are in the shed" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let comment_id = response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();

    // Deleting the comment is proposed with the task it is on, then applied on yes.
    let id = comment_id.clone();
    model.then(move |_| Step::Calls(vec![("delete_comment", json!({ "id": id }))]));
    let reply = say(&app, &owner, json!({ "message": "Remove my comment about the bulbs" })).await;
    let conversation = reply["conversation_id"].as_str().expect("conversation").to_owned();
    let summary = reply["pending_action"]["summary"].as_str().expect("a pending action");
    assert!(summary.contains("delete a comment on") && summary.contains("Plant tulips"), "{summary}");
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "yes" })).await;
    assert_eq!(reply["tool_calls"][0]["status"], "ok", "{reply}");
    let comments: Value = app
        .get(&format!("/api/v1/tasks/{task_id}/comments"), &owner)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(comments["items"].as_array().map(Vec::len), Some(0), "{comments}");

    // Handing over names the new owner; before yes nothing changes.
    let (project, user) = (garden.clone(), sam.id.clone());
    model.then(move |_| Step::Calls(vec![("transfer_project", json!({ "project_id": project, "user_id": user }))]));
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "Give Sam the garden" })).await;
    let summary = reply["pending_action"]["summary"].as_str().expect("a pending action");
    assert!(summary.contains(&format!("make {} the owner of the project \"Garden\"", sam.email)), "{summary}");
    let role = |user: &TestUser| {
        let (app, garden, user) = (&app, garden.clone(), user.clone());
        async move {
            let project: Value = app
                .get(&format!("/api/v1/projects/{garden}"), &user)
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            project["role"].as_str().expect("role").to_owned()
        }
    };
    assert_eq!(role(&sam).await, "editor");
    let reply = say(&app, &owner, json!({ "conversation_id": conversation, "message": "yes" })).await;
    assert_eq!(reply["tool_calls"][0]["status"], "ok", "{reply}");
    assert_eq!(role(&sam).await, "owner");
    assert_eq!(role(&owner).await, "editor");
}
