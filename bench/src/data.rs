//! Deterministic, varied task bodies: the same index always gives the same task.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

const VERBS: [&str; 16] = [
    "write", "review", "call", "plan", "fix", "email", "buy", "clean", "draft", "ship", "book", "prepare", "read",
    "update", "schedule", "check",
];
const NOUNS: [&str; 16] = [
    "report",
    "invoice",
    "dentist",
    "roadmap",
    "budget",
    "groceries",
    "slides",
    "contract",
    "release",
    "newsletter",
    "garden",
    "taxes",
    "meeting",
    "backlog",
    "proposal",
    "car",
];
/// `tag=work` matches 1 task in 8.
pub const TAGS: [&str; 8] = ["work", "home", "errand", "health", "finance", "family", "reading", "someday"];
/// `priority=high` matches 1 task in 5.
const PRIORITIES: [&str; 5] = ["none", "low", "medium", "high", "urgent"];
/// 1 title in 1000 carries this word (a selective full-text query).
pub const RARE_WORD: &str = "zebra";

/// splitmix64: a cheap, well-mixed hash of the index.
pub fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Task `i`: a title from 16×16 words (`q=report` matches about 1 in 16), a
/// priority, two tags (one of 8 and one of 25 groups `gN`), and for 70% of
/// tasks a due instant between 30 days ago and 60 days ahead of `now`.
/// Returns the title (to recognise the task's events) and the JSON body.
pub fn task(i: u64, prefix: &str, now: DateTime<Utc>) -> (String, Vec<u8>) {
    let h = mix(i);
    let verb = VERBS[(h % 16) as usize];
    let noun = NOUNS[((h >> 8) % 16) as usize];
    let mut title = format!("{verb} {noun} {prefix}{i}");
    if i.is_multiple_of(1000) {
        title.push(' ');
        title.push_str(RARE_WORD);
    }
    let mut body = json!({
        "title": title,
        "description": format!("Benchmark task {i}: {verb} the {noun} before it is too late."),
        "priority": PRIORITIES[(i % 5) as usize],
        "tags": [TAGS[(i % 8) as usize], format!("g{}", i % 25)],
    });
    if (h >> 16) % 10 < 7 {
        const MINUTES_30D: i64 = 30 * 24 * 60;
        let offset_min = ((h >> 24) % (90 * 24 * 60)) as i64 - MINUTES_30D;
        let due = now + chrono::Duration::minutes(offset_min);
        body["due"] = json!(due.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    let bytes = serde_json::to_vec(&body).expect("a JSON value serialises");
    (title, bytes)
}

/// Which seeded tasks get completed (1 in 5, independent of priority and tags).
pub fn completes(i: u64) -> bool {
    mix(i ^ 0x5EED_5EED).is_multiple_of(5)
}
