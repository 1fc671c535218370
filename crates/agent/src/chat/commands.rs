//! The small command grammar the chat understands without a model: a verb
//! first, then its object. Adding goes through the quick-add parser, so
//! "add Pay rent tomorrow 9am !high #home" keeps its due, priority and tag.
//!
//! ```text
//! add|new|create|todo <text>          quick add
//! list|ls|show|tasks [open|all|completed|overdue] [#tag ...]
//! done|complete|finish|check <task>   <task> is an id or words of its title
//! reopen|undo|uncheck <task>
//! delete|remove|rm|del <task>         asks for confirmation first
//! help
//! ```

/// Which tasks `list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Open,
    All,
    Completed,
    Overdue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Add(String),
    List { which: Which, tags: Vec<String> },
    Complete(String),
    Reopen(String),
    Delete(String),
    Help,
    Unknown,
}

pub const HELP: &str = "Commands: \"add <task>\" (e.g. add Pay rent tomorrow 9am !high #home), \"list\" \
(or list all / completed / overdue / #tag), \"done <task>\", \"reopen <task>\", \"delete <task>\", \"help\". \
A <task> is its id or words from its title.";

pub fn parse(message: &str) -> Command {
    let message = message.trim();
    let (verb, rest) = match message.split_once(char::is_whitespace) {
        Some((v, r)) => (v, r.trim()),
        None => (message, ""),
    };
    let verb = verb.trim_end_matches([':', ',', '.', '!']).to_lowercase();
    match verb.as_str() {
        "add" | "new" | "create" | "todo" if !rest.is_empty() => {
            // "add task: Buy milk" means the task "Buy milk".
            let text = rest.strip_prefix("task:").or_else(|| rest.strip_prefix("task ")).unwrap_or(rest).trim();
            if text.is_empty() { Command::Help } else { Command::Add(text.to_owned()) }
        }
        "list" | "ls" | "show" | "tasks" => {
            let mut which = Which::Open;
            let mut tags = Vec::new();
            for word in rest.split_whitespace() {
                match word.to_lowercase().as_str() {
                    "all" | "everything" => which = Which::All,
                    "completed" | "done" | "finished" => which = Which::Completed,
                    "overdue" | "late" => which = Which::Overdue,
                    "open" | "tasks" | "my" | "todo" | "todos" => {}
                    w if w.starts_with('#') && w.len() > 1 => tags.push(w[1..].to_owned()),
                    _ => return Command::Unknown,
                }
            }
            Command::List { which, tags }
        }
        "done" | "complete" | "finish" | "check" if !rest.is_empty() => Command::Complete(rest.to_owned()),
        "reopen" | "undo" | "uncheck" if !rest.is_empty() => Command::Reopen(rest.to_owned()),
        "delete" | "remove" | "rm" | "del" if !rest.is_empty() => Command::Delete(rest.to_owned()),
        "help" | "?" | "commands" => Command::Help,
        _ => Command::Unknown,
    }
}

/// Whether a message confirms a proposed change.
pub fn is_yes(message: &str) -> bool {
    let m = normalise(message);
    matches!(
        m.as_str(),
        "yes" | "y" | "yes please" | "confirm" | "confirmed" | "ok" | "okay" | "do it" | "go ahead" | "sure" | "apply"
    )
}

/// Whether a message only declines a proposed change.
pub fn is_no(message: &str) -> bool {
    let m = normalise(message);
    matches!(m.as_str(), "no" | "n" | "cancel" | "stop" | "don't" | "dont" | "never mind" | "nevermind" | "abort")
}

fn normalise(message: &str) -> String {
    message.trim().trim_end_matches(['.', '!']).trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_objects() {
        assert_eq!(parse("add Buy milk tomorrow #home"), Command::Add("Buy milk tomorrow #home".into()));
        assert_eq!(parse("Add task: Call mum"), Command::Add("Call mum".into()));
        assert_eq!(parse("list"), Command::List { which: Which::Open, tags: vec![] });
        assert_eq!(parse("list completed #work"), Command::List { which: Which::Completed, tags: vec!["work".into()] });
        assert_eq!(parse("done Buy milk"), Command::Complete("Buy milk".into()));
        assert_eq!(parse("delete 0190"), Command::Delete("0190".into()));
        assert_eq!(parse("what should I do today?"), Command::Unknown);
        assert_eq!(parse("list the things I forgot"), Command::Unknown);
        assert_eq!(parse("add"), Command::Unknown);
    }

    #[test]
    fn confirmations() {
        assert!(is_yes("Yes."));
        assert!(is_yes(" confirm "));
        assert!(!is_yes("yes, but only the first"));
        assert!(is_no("No!"));
    }
}
