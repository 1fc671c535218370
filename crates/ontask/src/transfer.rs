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
    app.auth().actor_for_email(email).await.map_err(|e| match e {
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

/// What `ontask import` was asked to do.
pub struct ImportArgs<'a> {
    pub email: &'a str,
    pub file: &'a Path,
    pub format: Option<ontask_app::import::ImportFormat>,
    pub project: Option<&'a str>,
    pub dry_run: bool,
}

/// Imports a file as the account; prints the report (JSON) on standard
/// output and a summary on standard error, with a progress bar while it
/// runs when standard error is a terminal.
pub async fn import(app: &App, args: ImportArgs<'_>) -> anyhow::Result<ontask_app::import::ImportReport> {
    use std::io::IsTerminal;

    use ontask_app::import::{ImportFile, Progress};

    let actor = actor(app, args.email).await?;
    let bytes = std::fs::read(args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let file_name = args.file.file_name().and_then(|n| n.to_str());
    let file = ImportFile { bytes: &bytes, file_name, format: args.format, project: args.project };
    let read = ontask_app::import::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(read.total() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tasks {elapsed}") {
            bar.set_style(style);
        }
        bar
    });
    let progress = {
        let bar = bar.clone();
        move |p: Progress| {
            if let Some(bar) = &bar {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
            }
        }
    };
    let ctx = ontask_app::Context::system(actor.event_actor());
    let report = app.imports().run(&ctx, &actor, read, args.dry_run, &progress).await.map_err(anyhow::Error::new)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    let c = report.created;
    let verb = if report.dry_run { "would create" } else { "created" };
    eprintln!(
        "ontask: {verb} {} projects, {} sections, {} tasks, {} comments; {} tasks already imported; {} lines not imported",
        c.projects,
        c.sections,
        c.tasks,
        c.comments,
        report.already_imported.tasks,
        report.not_imported.len()
    );
    for issue in &report.not_imported {
        eprintln!("  line {}: {}: {}", issue.line, issue.what, issue.reason);
    }
    Ok(report)
}
