//! Cursor pagination over every sort order, and the list filters.
use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, spawn_app};

const PRIORITIES: [&str; 5] = ["none", "low", "medium", "high", "urgent"];

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp_millis()
}

/// The sort key the API documents, computed from a task's JSON.
fn key(task: &Value, sort: &str, descending: bool) -> i64 {
    match sort {
        // Tasks without a due come last in both directions.
        "due" => match task["due_at"] {
            Value::Null if descending => i64::MIN,
            Value::Null => i64::MAX,
            ref at => ms(at),
        },
        "priority" => PRIORITIES.iter().position(|p| task["priority"] == *p).unwrap() as i64,
        "created" => ms(&task["created_at"]),
        "updated" => ms(&task["updated_at"]),
        "position" => task["position"].as_i64().unwrap(),
        other => panic!("{other}"),
    }
}

async fn page(app: &TestApp, user: &TestUser, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/tasks?{query}"), user).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

async fn ids(app: &TestApp, user: &TestUser, query: &str) -> HashSet<String> {
    let body = page(app, user, &format!("limit=200&{query}")).await;
    body["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn paging_visits_every_task_once_in_order_for_every_sort() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut tasks = Vec::new();
    for i in 0..120_i64 {
        let mut body = json!({ "title": format!("task {i}"), "priority": PRIORITIES[(i * 7 % 5) as usize], "position": (i * 37) % 50 });
        // A third without a due; many sharing one due, so ties must break by id.
        match i % 3 {
            0 => {}
            1 => body["due"] = json!("2026-06-01T09:00:00Z"),
            _ => body["due"] = json!(format!("2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28)),
        }
        tasks.push(app.create_task(&user, body).await);
    }
    // Touch some, so updated order differs from created order.
    for i in (0..120).step_by(9).rev() {
        let id = tasks[i]["id"].as_str().unwrap().to_owned();
        let response = app
            .patch(&format!("/api/v1/tasks/{id}"), &user)
            .json(&json!({ "title": format!("touched {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        tasks[i] = response.json().await.unwrap();
    }

    for sort in ["due", "priority", "created", "updated", "position"] {
        for order in ["asc", "desc"] {
            let descending = order == "desc";
            let mut expected = tasks.clone();
            expected.sort_by(|a, b| {
                let ka = (key(a, sort, descending), a["id"].as_str().unwrap());
                let kb = (key(b, sort, descending), b["id"].as_str().unwrap());
                if descending { kb.cmp(&ka) } else { ka.cmp(&kb) }
            });
            let expected: Vec<&str> = expected.iter().map(|t| t["id"].as_str().unwrap()).collect();

            let mut seen: Vec<String> = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut query = format!("sort={sort}&order={order}&limit=25");
                if let Some(c) = &cursor {
                    query.push_str(&format!("&cursor={c}"));
                }
                let body = page(&app, &user, &query).await;
                let items = body["items"].as_array().unwrap();
                pages += 1;
                assert!(pages <= 5, "{sort} {order}: more pages than tasks allow");
                seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
                match body.get("next_cursor").map(|c| c.as_str().expect("a cursor is a string, or absent")) {
                    Some(next) => {
                        assert_eq!(items.len(), 25, "{sort} {order}: only full pages have a next cursor");
                        cursor = Some(next.to_owned());
                    }
                    None => break,
                }
            }
            let unique: HashSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "{sort} {order}: duplicates");
            assert_eq!(seen.len(), 120, "{sort} {order}: gaps");
            assert_eq!(seen, expected, "{sort} {order}: order");
            assert_eq!(pages, 5, "{sort} {order}: 120 tasks are 5 pages of 25 (the last one short)");
        }
    }

    // A cursor only fits the sort and order it was issued for.
    let body = page(&app, &user, "sort=due&limit=25").await;
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    for query in [
        format!("sort=priority&cursor={cursor}"),
        format!("sort=due&order=desc&cursor={cursor}"),
        format!("cursor={cursor}"),
    ] {
        let response = app.get(&format!("/api/v1/tasks?{query}"), &user).send().await.unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "cursor");
    }
    // The default page is 50.
    assert_eq!(page(&app, &user, "").await["items"].as_array().unwrap().len(), 50);
    // An exactly full last page has no cursor (to an empty page) either.
    let body = page(&app, &user, "limit=120").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 120);
    assert!(body.get("next_cursor").is_none(), "{}", body["next_cursor"]);
    let body = page(&app, &user, "limit=119").await;
    let next = body["next_cursor"].as_str().unwrap();
    let rest = page(&app, &user, &format!("limit=119&cursor={next}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_cursor").is_none(), "absent on the last page: {rest}");
    app.stop().await;
}

#[tokio::test]
async fn filters_combine_with_and() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let past = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let yesterday_date = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let today_date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let future = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut id = std::collections::HashMap::new();
    for (name, body) in [
        (
            "report",
            json!({ "title": "Quarterly report", "description": "numbers for the board", "priority": "high", "tags": ["work", "finance"], "due": past }),
        ),
        (
            "taxes",
            json!({ "title": "Taxes", "description": "the quarterly estimate", "priority": "urgent", "tags": ["finance", "home"], "due": "2026-01-15" }),
        ),
        ("plants", json!({ "title": "Water plants", "priority": "low", "tags": ["home"], "due": future })),
        (
            "reporter",
            json!({ "title": "Call the reporter", "priority": "medium", "tags": ["work"], "due": yesterday_date }),
        ),
        ("today", json!({ "title": "Due today, all day", "due": today_date })),
        ("someday", json!({ "title": "Someday, maybe" })),
        ("done", json!({ "title": "Old report, done", "priority": "high", "tags": ["work"], "due": past })),
    ] {
        let task = app.create_task(&user, body).await;
        id.insert(name, task["id"].as_str().unwrap().to_owned());
    }
    let done = &id["done"];
    assert_eq!(
        app.post(&format!("/api/v1/tasks/{done}/complete"), &user).send().await.unwrap().status(),
        StatusCode::OK
    );
    let set = |names: &[&str]| names.iter().map(|n| id[n].clone()).collect::<HashSet<_>>();

    assert_eq!(ids(&app, &user, "status=completed").await, set(&["done"]));
    assert_eq!(ids(&app, &user, "status=open").await.len(), 6);
    assert_eq!(ids(&app, &user, "priority=high").await, set(&["report", "done"]));
    assert_eq!(ids(&app, &user, "priority=high&priority=urgent").await, set(&["report", "taxes", "done"]));
    assert_eq!(ids(&app, &user, "priority=high,urgent&status=open").await, set(&["report", "taxes"]));
    assert_eq!(ids(&app, &user, "tag=finance").await, set(&["report", "taxes"]));
    assert_eq!(ids(&app, &user, "tag=finance&tag=home").await, set(&["taxes"]), "every tag must match");
    assert_eq!(
        ids(&app, &user, "tag=%23Work").await,
        set(&["report", "reporter", "done"]),
        "tags in the query are normalised"
    );
    assert_eq!(ids(&app, &user, "tag=nothing").await, set(&[]));

    assert_eq!(ids(&app, &user, "q=report").await, set(&["report", "reporter", "done"]), "prefix match");
    assert_eq!(ids(&app, &user, "q=repo").await, set(&["report", "reporter", "done"]));
    assert_eq!(ids(&app, &user, "q=quarterly").await, set(&["report", "taxes"]), "title and description");
    assert_eq!(ids(&app, &user, "q=quarterly%20report").await, set(&["report"]), "every word must match");
    assert_eq!(ids(&app, &user, "q=BOARD").await, set(&["report"]), "case-insensitive");
    assert_eq!(ids(&app, &user, "q=report&status=open&tag=work").await, set(&["report", "reporter"]));
    for odd in ["%22", "NEAR(", "*", "report%22%20OR%20%22x", "-", "AND", "%E2%9C%93"] {
        // FTS syntax in the query is just text.
        page(&app, &user, &format!("q={odd}")).await;
    }

    let cutoff = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    assert_eq!(
        ids(&app, &user, &format!("due_before={cutoff}")).await,
        set(&["report", "taxes", "reporter", "today", "done"])
    );
    assert_eq!(ids(&app, &user, &format!("due_after={cutoff}")).await, set(&["plants"]));
    assert_eq!(ids(&app, &user, "due_after=2026-01-01&due_before=2026-02-01").await, set(&["taxes"]));
    // Tasks without a due match neither bound.
    assert!(!ids(&app, &user, "due_after=1970-01-01").await.contains(&id["someday"]));
    assert!(!ids(&app, &user, "due_before=2999-01-01").await.contains(&id["someday"]));

    // Overdue: open and past due. A whole-day due today is not overdue yet;
    // yesterday's is.
    let overdue = ids(&app, &user, "overdue=true").await;
    assert!(overdue.contains(&id["report"]) && overdue.contains(&id["reporter"]), "{overdue:?}");
    assert!(!overdue.contains(&id["done"]), "completed tasks are not overdue");
    assert!(!overdue.contains(&id["today"]) && !overdue.contains(&id["plants"]) && !overdue.contains(&id["someday"]));
    assert_eq!(ids(&app, &user, "overdue=false").await.len(), 7);
    app.stop().await;
}
