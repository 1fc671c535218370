//! The JSON Schema (2020-12) of the export document (`GET /api/v1/export`,
//! `ontask export`), generated from its types and published as
//! `docs/export/schema.json` (a test keeps the file in step).
use std::collections::BTreeMap;

use ontask_app::export::ExportDocument;
use serde_json::{Value, json};
use utoipa::{PartialSchema, ToSchema};

/// Points OpenAPI component references at the schema's `$defs`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                *r = r.replace("#/components/schemas/", "#/$defs/");
            }
            map.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

pub fn document() -> Value {
    let mut found = vec![(ExportDocument::name().into_owned(), ExportDocument::schema())];
    ExportDocument::schemas(&mut found);
    let defs: BTreeMap<String, Value> =
        found.into_iter().map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null))).collect();
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ontask.dev/schemas/export/v1.json",
        "title": "ontask export, version 1",
        "description": "Everything of one person's, as GET /api/v1/export and `ontask export` write it and `ontask import` reads it.",
        "$ref": "#/$defs/ExportDocument",
        "$defs": defs,
    });
    rewrite_refs(&mut schema);
    schema
}
