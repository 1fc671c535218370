//! The published event contract, `docs/events/asyncapi.json`: generated from
//! the event types, it must match them, and a change to the types must stay
//! compatible with what was published before (readers of the log replay old
//! events with the new types). After a compatible change to the types:
//!
//!     ONTASK_WRITE_CONTRACT=1 cargo test -p ontask-api --test event_contract
//!
//! writes the new document; an incompatible one needs a new event version.
use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

fn published_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/events/asyncapi.json")
}

fn generated() -> Value {
    serde_json::to_value(ontask_api::asyncapi::document()).expect("the document serialises")
}

/// Why `new` cannot read what was written to `old`, one line per reason.
fn breaks(old: &Value, new: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (id, message) in old["components"]["messages"].as_object().into_iter().flatten() {
        match new["components"]["messages"].get(id) {
            None => found.push(format!("message {id} was removed")),
            Some(m) if m["name"] != message["name"] => found.push(format!("message {id} was renamed")),
            Some(m) => compare(&format!("message {id}"), &message["payload"], &m["payload"], &mut found),
        }
    }
    for (name, schema) in old["components"]["schemas"].as_object().into_iter().flatten() {
        match new["components"]["schemas"].get(name) {
            None => found.push(format!("schema {name} was removed")),
            Some(s) => compare(&format!("schema {name}"), schema, s, &mut found),
        }
    }
    found
}

fn strings(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(a) => a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)).collect(),
        _ => BTreeSet::new(),
    }
}

fn compare(at: &str, old: &Value, new: &Value, found: &mut Vec<String>) {
    if old.get("$ref") != new.get("$ref") {
        found.push(format!("{at}: now refers to {} instead of {}", new["$ref"], old["$ref"]));
    }
    // A type may widen (become nullable), never narrow.
    let (old_types, new_types) = (strings(&old["type"]), strings(&new["type"]));
    if !old_types.is_empty() && !old_types.is_subset(&new_types) {
        found.push(format!("{at}: type {old_types:?} became {new_types:?}"));
    }
    // Enum values may be added, never removed: old events carry them.
    if let (Some(old_enum), Some(new_enum)) = (old["enum"].as_array(), new["enum"].as_array()) {
        for value in old_enum.iter().filter(|v| !new_enum.contains(v)) {
            found.push(format!("{at}: enum value {value} was removed"));
        }
    }
    let (old_required, new_required) = (strings(&old["required"]), strings(&new["required"]));
    for field in new_required.difference(&old_required) {
        found.push(format!("{at}: {field} became required (events written before lack it)"));
    }
    for (name, schema) in old["properties"].as_object().into_iter().flatten() {
        match new["properties"].get(name) {
            None => found.push(format!("{at}: property {name} was removed")),
            Some(s) => compare(&format!("{at}.{name}"), schema, s, found),
        }
    }
    if old.get("items").is_some() {
        compare(&format!("{at}[]"), &old["items"], &new["items"], found);
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        let (Some(o), Some(n)) = (old[combinator].as_array(), new[combinator].as_array()) else { continue };
        if o.len() != n.len() {
            found.push(format!("{at}: {combinator} has {} parts instead of {}", n.len(), o.len()));
        }
        for (i, (o, n)) in o.iter().zip(n).enumerate() {
            compare(&format!("{at}.{combinator}[{i}]"), o, n, found);
        }
    }
}

#[test]
fn the_event_types_stay_compatible_with_the_published_contract_and_it_with_them() {
    let path = published_path();
    let published: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("docs/events/asyncapi.json"))
        .expect("the published contract is JSON");
    let current = generated();
    let broken = breaks(&published, &current);
    assert!(broken.is_empty(), "the event types no longer read what was published:\n{}", broken.join("\n"));
    if current != published {
        if std::env::var_os("ONTASK_WRITE_CONTRACT").is_some() {
            let text = serde_json::to_string_pretty(&current).unwrap() + "\n";
            std::fs::write(&path, text).expect("writing docs/events/asyncapi.json");
        } else {
            panic!("docs/events/asyncapi.json is not what the types generate; see this file's header to update it");
        }
    }
}

#[test]
fn every_kind_of_event_is_a_message_on_a_channel() {
    let doc = generated();
    let names: BTreeSet<&str> =
        doc["components"]["messages"].as_object().unwrap().values().map(|m| m["name"].as_str().unwrap()).collect();
    let kinds: BTreeSet<&str> = ontask_domain::EventType::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, kinds);
    for (id, _) in doc["components"]["messages"].as_object().unwrap() {
        let carried = doc["channels"].as_object().unwrap().values().filter(|c| c["messages"].get(id).is_some()).count();
        assert_eq!(carried, 2, "{id}: on its own topic and on the updates topic");
    }
    // Every reference resolves inside the document.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1).map(|r| &r[..r.find('"').unwrap()]) {
        let pointer = reference.strip_prefix('#').expect("local references only");
        assert!(doc.pointer(pointer).is_some(), "{reference} does not resolve");
    }
}

#[test]
fn the_checker_finds_the_changes_that_would_break_old_events() {
    let old = generated();
    let mut new = old.clone();
    let schemas = new["components"]["schemas"].as_object_mut().unwrap();
    let due = schemas.get_mut("ReminderDue").unwrap();
    due["properties"].as_object_mut().unwrap().remove("title");
    due["required"].as_array_mut().unwrap().push("snoozed".into());
    due["properties"]["fire_at"]["type"] = "integer".into();
    let field = schemas.get_mut("TaskField").unwrap();
    field["enum"].as_array_mut().unwrap().retain(|v| v != "position");
    new["components"]["messages"].as_object_mut().unwrap().remove("taskReopened");
    let found = breaks(&old, &new);
    for expected in [
        "message taskReopened was removed",
        "schema ReminderDue: property title was removed",
        "schema ReminderDue: snoozed became required",
        "schema ReminderDue.fire_at: type",
        "schema TaskField: enum value \"position\" was removed",
    ] {
        assert!(found.iter().any(|f| f.starts_with(expected)), "{expected} not in {found:#?}");
    }
    assert!(breaks(&old, &old).is_empty());
}

/// The export document's schema, `docs/export/schema.json`, is the one the
/// types generate (`ONTASK_WRITE_CONTRACT=1` writes it after a change).
#[test]
fn export_schema_is_published() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/export/schema.json");
    let generated = ontask_api::export_schema::document();
    let text = serde_json::to_string_pretty(&generated).expect("serialises") + "\n";
    if std::env::var_os("ONTASK_WRITE_CONTRACT").is_some() {
        std::fs::create_dir_all(path.parent().expect("docs/export")).expect("create docs/export");
        std::fs::write(&path, &text).expect("write docs/export/schema.json");
    }
    let published = std::fs::read_to_string(&path).expect("docs/export/schema.json exists");
    assert_eq!(published, text, "docs/export/schema.json is stale: run with ONTASK_WRITE_CONTRACT=1");
    for def in ["ExportDocument", "ExportProject", "ExportTask", "TaskSnapshot", "Comment", "Section", "Project"] {
        assert!(generated["$defs"][def].is_object(), "the schema defines {def}");
    }
}
