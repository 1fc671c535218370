//! `ontask export` and `ontask import`: the command-line front door of the
//! export and import services, acting as the account named by `--user`.
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use ontask_app::{Actor, App, AppError};

/// What `ontask export --format` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The JSON document `docs/export/schema.json` describes.
    Json,
    /// iCalendar, one VTODO per task.
    Ics,
}

pub async fn actor(app: &App, email: &str) -> anyhow::Result<Actor> {
    app.auth.actor_for_email(email).await.map_err(|e| match e {
        AppError::NotFound => anyhow::anyhow!("no account with the e-mail {email:?}"),
        other => anyhow::anyhow!(other),
    })
}

/// Writes the account's export to `output`, or to standard output.
pub async fn export(app: &App, email: &str, format: ExportFormat, output: Option<&Path>) -> anyhow::Result<()> {
    let actor = actor(app, email).await?;
    let text = match format {
        ExportFormat::Json => {
            let document = app.export().document(&actor).await.map_err(anyhow::Error::new)?;
            serde_json::to_string_pretty(&document)? + "\n"
        }
        ExportFormat::Ics => app.export().ics(&actor, None).await.map_err(anyhow::Error::new)?,
    };
    match output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to standard output")?,
    }
    Ok(())
}
