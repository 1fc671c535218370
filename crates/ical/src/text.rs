//! TEXT values (RFC 5545 section 3.3.11) and the small builders the writer
//! uses on top of the `icalendar` crate's parsed types.
use icalendar::parser::{Component, Parameter, Property};

/// Escapes a TEXT value: backslash, semicolon, comma and line breaks.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Splits a TEXT list (CATEGORIES) at its unescaped commas and unescapes each item.
pub(crate) fn split_list(raw: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n' | 'N') => items.last_mut().map(|s| s.push('\n')).unwrap_or_default(),
                Some(other) => items.last_mut().map(|s| s.push(other)).unwrap_or_default(),
                None => {}
            },
            ',' => items.push(String::new()),
            c => items.last_mut().map(|s| s.push(c)).unwrap_or_default(),
        }
    }
    items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

pub(crate) fn component(name: &str) -> Component<'static> {
    Component { name: name.to_owned().into(), properties: Vec::new(), components: Vec::new() }
}

/// A property whose value is written as given (already in its iCalendar form).
pub(crate) fn prop(name: &str, value: impl Into<String>) -> Property<'static> {
    Property { name: name.to_owned().into(), val: value.into().into(), params: Vec::new() }
}

pub(crate) fn with_param(mut p: Property<'static>, key: &str, value: &str) -> Property<'static> {
    p.params.push(Parameter { key: key.to_owned().into(), val: Some(value.to_owned().into()) });
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_splits() {
        assert_eq!(escape("a,b;c\\d\r\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(split_list("home, work\\,late ,,x"), ["home", "work,late", "x"]);
    }
}
