//! Starting the app and talking to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ontask::config::Config;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

/// The application running in this test process.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    /// The PostgreSQL database when the suite runs on PostgreSQL.
    pub database: Option<ontask_testkit::pg::TestDatabase>,
    stop: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A signed-up account.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

pub fn test_config(data_dir: &Path) -> Config {
    Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    }
}

/// `ONTASK_TEST_BACKEND=postgres` runs the suite against PostgreSQL (the test
/// command does both); the default is a SQLite file in a temp dir.
pub fn on_postgres() -> bool {
    std::env::var("ONTASK_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app with a fresh data directory; `adjust` may change the config.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(data_dir.path());
    let database = on_postgres().then(|| ontask_testkit::pg::database().expect("a PostgreSQL test database"));
    config.database_url = database.as_ref().map(|d| d.url().to_owned().into());
    adjust(&mut config);
    let app = ontask::Application::build(config).await.expect("the app builds");
    let port = app.port();
    let stop = app.stop_token();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        data_dir,
        database,
        stop,
        server: Some(server),
    }
}

impl TestApp {
    /// The command-line flags that point `ontask` at this app's data.
    pub fn database_args(&self) -> Vec<String> {
        let mut args = vec!["--data-dir".to_owned(), self.data_dir.path().display().to_string()];
        if let Some(database) = &self.database {
            args.extend(["--database-url".to_owned(), database.url().to_owned()]);
        }
        args
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request to `path` (e.g. `/api/v1/tasks`), authenticated as `user` if given.
    pub fn request(&self, method: Method, path: &str, user: Option<&TestUser>) -> RequestBuilder {
        let rb = self.client.request(method, self.url(path));
        match user {
            Some(u) => rb.bearer_auth(&u.token),
            None => rb,
        }
    }

    pub fn get(&self, path: &str, user: &TestUser) -> RequestBuilder {
        self.request(Method::GET, path, Some(user))
    }

    pub fn post(&self, path: &str, user: &TestUser) -> RequestBuilder {
        self.request(Method::POST, path, Some(user))
    }

    pub fn patch(&self, path: &str, user: &TestUser) -> RequestBuilder {
        self.request(Method::PATCH, path, Some(user))
    }

    pub fn delete(&self, path: &str, user: &TestUser) -> RequestBuilder {
        self.request(Method::DELETE, path, Some(user))
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("request")
    }

    /// Signs up a new account with a unique e-mail.
    pub async fn new_user(&self) -> TestUser {
        sign_up(&self.client, &self.address).await
    }

    /// Creates a task and returns its JSON; panics unless the answer is 201.
    pub async fn create_task(&self, user: &TestUser, body: Value) -> Value {
        create_task_at(&self.client, &self.address, user, body).await
    }

    /// Creates a project of `user` and returns its JSON; panics unless 201.
    pub async fn create_project(&self, user: &TestUser, name: &str) -> Value {
        let response =
            self.post("/api/v1/projects", user).json(&json!({ "name": name })).send().await.expect("request");
        let status = response.status();
        let json: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "creating a project failed: {json}");
        json
    }

    /// Adds `with` to `owner`'s project as `role`; panics unless 201.
    pub async fn share(&self, owner: &TestUser, project: &str, with: &TestUser, role: &str) {
        let response = self
            .post(&format!("/api/v1/projects/{project}/members"), owner)
            .json(&json!({ "email": with.email, "role": role }))
            .send()
            .await
            .expect("request");
        let status = response.status();
        assert_eq!(status, StatusCode::CREATED, "sharing failed: {}", response.text().await.unwrap_or_default());
    }

    pub async fn task_history(&self, user: &TestUser, id: &str) -> Vec<Value> {
        let body: Value = self
            .get(&format!("/api/v1/tasks/{id}/history"), user)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Stops the app the way SIGTERM does and waits until it has drained.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("clean stop");
        }
    }

    /// Stops the app and starts it again on the same data; `between` runs
    /// while it is stopped (to change the data as another version would).
    pub async fn restart(mut self, between: impl AsyncFnOnce(&TestApp)) -> TestApp {
        self.stop.cancel();
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("clean stop");
        }
        between(&self).await;
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        let database = self.database.take();
        let mut config = test_config(data_dir.path());
        config.database_url = database.as_ref().map(|d| d.url().to_owned().into());
        let app = ontask::Application::build(config).await.expect("the app builds again");
        let port = app.port();
        let stop = app.stop_token();
        let server = tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: self.client.clone(),
            data_dir,
            database,
            stop,
            server: Some(server),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Signs up a new account with a unique e-mail on the app at `address`.
pub async fn sign_up(client: &reqwest::Client, address: &str) -> TestUser {
    let email = format!("user-{}@example.com", uuid::Uuid::now_v7().simple());
    let password = "correct horse battery".to_owned();
    let response = client
        .post(format!("{address}/api/v1/auth/register"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "sign-up failed");
    let body: Value = response.json().await.expect("json");
    TestUser {
        id: body["user"]["id"].as_str().expect("user id").to_owned(),
        email,
        password,
        token: body["token"].as_str().expect("token").to_owned(),
    }
}

/// Creates a task on the app at `address`; panics unless the answer is 201.
pub async fn create_task_at(client: &reqwest::Client, address: &str, user: &TestUser, body: Value) -> Value {
    let response = client
        .post(format!("{address}/api/v1/tasks"))
        .bearer_auth(&user.token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let json: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "creating a task failed: {json}");
    json
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Asserts an RFC 9457 problem answer and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["type"], format!("https://ontask.dev/problems/{kind}"), "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}

/// The real `ontask` binary running as a child process (for crash tests).
pub struct ProcessApp {
    pub address: String,
    pub data_dir: PathBuf,
    child: tokio::process::Child,
}

impl ProcessApp {
    /// Starts `ontask serve` on a free port with `data_dir` and extra args.
    pub async fn start(data_dir: &Path, extra_args: &[&str]) -> ProcessApp {
        Self::start_with_env(data_dir, extra_args, &[]).await
    }

    /// Like [`ProcessApp::start`], with extra environment variables (config).
    pub async fn start_with_env(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> ProcessApp {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .envs(env.iter().copied())
            .env("ONTASK_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start ontask");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read log") {
                if let Ok(log) = serde_json::from_str::<Value>(&line)
                    && log["message"] == "ontask started"
                {
                    return log["url"].as_str().expect("url").to_owned();
                }
            }
            panic!("ontask exited before it started");
        })
        .await
        .expect("ontask starts within 30 s");
        // Keep draining the log so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ProcessApp { address, data_dir: data_dir.to_path_buf(), child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `kill -9`: no chance to flush or clean up.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill -TERM");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits within 30 s")
            .expect("wait")
    }
}
