//! A request body as a tree of namespaced elements. WebDAV bodies are small
//! (a list of properties, some hrefs), so a tree is simpler to interpret than
//! a stream and costs nothing that matters.
//!
//! A document type declaration is refused: WebDAV never needs one, and
//! without it no entity can be defined, so none can expand (no "billion
//! laughs", no external entities). Only XML's five predefined entities and
//! character references are resolved.
use quick_xml::NsReader;
use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::Name;

/// Elements nest at most this deep; real bodies nest 6 or 7.
const MAX_DEPTH: usize = 32;

/// Why a body was refused (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadXml(pub String);

impl BadXml {
    pub(crate) fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// An element with its unqualified attributes, its children and its text
/// (every text node inside it, concatenated and trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.is(ns, local)
    }

    /// The first child with this name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// Every child with this name.
    pub fn children_named<'a>(&'a self, ns: &'a str, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn resolved(ns: ResolveResult<'_>) -> Result<String, BadXml> {
    match ns {
        ResolveResult::Bound(ns) => Ok(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => {
            Err(BadXml::new(format!("the prefix {:?} is not declared", String::from_utf8_lossy(&prefix))))
        }
    }
}

fn element(decoder: Decoder, ns: String, start: &BytesStart<'_>) -> Result<Element, BadXml> {
    let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| BadXml::new(format!("a malformed attribute: {e}")))?;
        // Namespace declarations and qualified attributes carry nothing WebDAV reads.
        if attr.key.as_ref().contains(&b':') || attr.key.as_ref() == b"xmlns" {
            continue;
        }
        let value = attr
            .decode_and_unescape_value(decoder)
            .map_err(|e| BadXml::new(format!("a malformed attribute value: {e}")))?;
        attributes.push((String::from_utf8_lossy(attr.key.as_ref()).into_owned(), value.into_owned()));
    }
    Ok(Element { name: Name::new(ns, local), attributes, children: Vec::new(), text: String::new() })
}

/// Parses a whole body: one root element, well-formed, UTF-8.
pub fn parse(body: &[u8]) -> Result<Element, BadXml> {
    let mut reader = NsReader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| BadXml::new(format!("not well-formed XML: {e}")))?;
        // Only an element's namespace is needed; resolving it at once ends
        // the reader's borrow.
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => resolved(ns)?,
            _ => String::new(),
        };
        let decoder = reader.decoder();
        let text = match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(BadXml::new("more than one root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(BadXml::new(format!("elements nest more than {MAX_DEPTH} deep")));
                }
                let e = element(decoder, ns, &start)?;
                stack.push(e);
                continue;
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(BadXml::new("more than one root element"));
                }
                let e = element(decoder, ns, &start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = Some(e),
                }
                continue;
            }
            Event::End(_) => {
                // The reader checks that end tags match their start tags.
                let Some(mut done) = stack.pop() else { return Err(BadXml::new("an end tag without its start")) };
                done.text = done.text.trim().to_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
                continue;
            }
            Event::Text(t) => t.decode().map_err(|e| BadXml::new(format!("text that is not UTF-8: {e}")))?.into_owned(),
            Event::CData(t) => String::from_utf8(t.into_inner().into_owned())
                .map_err(|_| BadXml::new("a CDATA section that is not UTF-8"))?,
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => c.to_string(),
                Ok(None) => {
                    let name = r.decode().map_err(|e| BadXml::new(format!("a reference not in UTF-8: {e}")))?;
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| BadXml::new(format!("the entity &{name}; is not defined")))?
                        .to_owned()
                }
                Err(e) => return Err(BadXml::new(format!("a bad character reference: {e}"))),
            },
            Event::DocType(_) => return Err(BadXml::new("a document type declaration is not accepted")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
            Event::Eof => break,
        };
        match stack.last_mut() {
            Some(open) => open.text.push_str(&text),
            None if text.trim().is_empty() => {}
            None => return Err(BadXml::new("text outside the root element")),
        }
    }
    if !stack.is_empty() {
        return Err(BadXml::new("the document ends inside an element"));
    }
    root.ok_or_else(|| BadXml::new("the body holds no element"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::DAV;

    #[test]
    fn names_are_resolved_whatever_the_prefix() {
        let doc = parse(
            br#"<?xml version="1.0"?><x:propfind xmlns:x="DAV:"><prop xmlns="DAV:"><getetag/></prop></x:propfind>"#,
        )
        .unwrap();
        assert!(doc.is(DAV, "propfind"));
        assert!(doc.child(DAV, "prop").unwrap().child(DAV, "getetag").is_some());
    }

    #[test]
    fn text_keeps_references_and_cdata() {
        let doc = parse(b"<a xmlns='DAV:'><href> /a&amp;b&#x20;c<![CDATA[<d>]]> </href></a>").unwrap();
        assert_eq!(doc.child(DAV, "href").unwrap().text, "/a&b c<d>");
        assert_eq!(parse(b"<a n='1 &lt; 2'/>").unwrap().attribute("n"), Some("1 < 2"));
    }

    #[test]
    fn refuses_what_is_not_one_well_formed_element() {
        for bad in [
            &b""[..],
            b"   ",
            b"<a>",
            b"<a></b>",
            b"<a/><b/>",
            b"text<a/>",
            b"<x:a/>",
            b"<a>&ent;</a>",
            b"<!DOCTYPE a [<!ENTITY e \"e\">]><a>&e;</a>",
            b"<a>\xff</a>",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).unwrap_err().0.contains("nest"));
    }
}
