//! What the server answers: a 207 multistatus (RFC 4918 section 13), with
//! one `response` per resource and a `propstat` per status, and the
//! `DAV:error` body of a failed precondition (RFC 4918 section 16).
//!
//! The namespaces clients know are declared once on the root with the
//! prefixes they conventionally get; any other (a property a client asked
//! for that the server does not have) is declared on its own element.
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::Name;
use crate::name::{APPLE_ICAL, CALDAV, CALENDARSERVER, DAV, ONTASK};

const PREFIXES: [(&str, &str); 5] =
    [(DAV, "d"), (CALDAV, "c"), (CALENDARSERVER, "cs"), (APPLE_ICAL, "ical"), (ONTASK, "o")];

/// An element of a property's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: Name,
    pub attributes: Vec<(&'static str, String)>,
    pub children: Vec<Node>,
    pub text: Option<String>,
}

impl Node {
    pub fn new(name: Name) -> Self {
        Self { name, attributes: Vec::new(), children: Vec::new(), text: None }
    }

    pub fn attribute(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push((key, value.into()));
        self
    }

    pub fn child(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    pub fn href(href: impl Into<String>) -> Self {
        Self::new(Name::dav("href")).text(href)
    }
}

/// A property's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// The property is there, with nothing in it.
    Empty,
    Text(String),
    /// A `DAV:href` (current-user-principal, calendar-home-set, ...).
    Href(String),
    Hrefs(Vec<String>),
    /// Elements (a resourcetype's `collection` and `calendar`, privileges,
    /// supported components).
    Nodes(Vec<Node>),
}

impl Value {
    /// `<d:privilege><d:read/></d:privilege>...` for current-user-privilege-set.
    pub fn privileges(privileges: &[Name]) -> Self {
        Self::Nodes(privileges.iter().map(|p| Node::new(Name::dav("privilege")).child(Node::new(p.clone()))).collect())
    }

    /// `<d:supported-report><d:report><x/></d:report></d:supported-report>...`.
    pub fn reports(reports: &[Name]) -> Self {
        Self::Nodes(
            reports
                .iter()
                .map(|r| {
                    Node::new(Name::dav("supported-report"))
                        .child(Node::new(Name::dav("report")).child(Node::new(r.clone())))
                })
                .collect(),
        )
    }

    /// `<c:comp name="VTODO"/>...` for supported-calendar-component-set.
    pub fn components(names: &[&str]) -> Self {
        Self::Nodes(names.iter().map(|c| Node::new(Name::caldav("comp")).attribute("name", *c)).collect())
    }

    /// Empty elements, as a resourcetype lists its types.
    pub fn elements(names: &[Name]) -> Self {
        Self::Nodes(names.iter().cloned().map(Node::new).collect())
    }
}

/// The properties of a resource that share a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propstat {
    pub status: u16,
    /// `None`: the name alone (a PROPFIND `propname`, a property not found).
    pub props: Vec<(Name, Option<Value>)>,
}

/// One resource of a multistatus: its properties, or a status of its own
/// (a 404 for a resource a multiget named or a sync found gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub href: String,
    pub status: Option<u16>,
    pub propstats: Vec<Propstat>,
}

impl Response {
    /// The properties found (200) and the names of those missing (404).
    pub fn props(href: impl Into<String>, found: Vec<(Name, Value)>, missing: Vec<Name>) -> Self {
        let mut propstats = Vec::new();
        if !found.is_empty() || missing.is_empty() {
            propstats.push(Propstat { status: 200, props: found.into_iter().map(|(n, v)| (n, Some(v))).collect() });
        }
        if !missing.is_empty() {
            propstats.push(Propstat { status: 404, props: missing.into_iter().map(|n| (n, None)).collect() });
        }
        Self { href: href.into(), status: None, propstats }
    }

    pub fn status(href: impl Into<String>, status: u16) -> Self {
        Self { href: href.into(), status: Some(status), propstats: Vec::new() }
    }
}

/// A 207 body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    pub responses: Vec<Response>,
    /// The collection's new token, at the end of a sync-collection answer.
    pub sync_token: Option<String>,
}

fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        424 => "Failed Dependency",
        507 => "Insufficient Storage",
        _ => "",
    };
    format!("HTTP/1.1 {status} {reason}").trim_end().to_owned()
}

struct Out {
    writer: Writer<Vec<u8>>,
}

impl Out {
    fn new() -> io::Result<Self> {
        let mut writer = Writer::new(Vec::new());
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        Ok(Self { writer })
    }

    /// The qualified name of `name`, and the declaration it needs when its
    /// namespace is not one of the root's.
    fn qualified(name: &Name) -> (String, Option<String>) {
        match PREFIXES.iter().find(|(ns, _)| *ns == name.ns) {
            Some((_, prefix)) => (format!("{prefix}:{}", name.local), None),
            None if name.ns.is_empty() => (name.local.to_string(), None),
            None => (format!("x:{}", name.local), Some(name.ns.to_string())),
        }
    }

    fn start(&mut self, name: &Name, attributes: &[(&str, String)], root: bool, empty: bool) -> io::Result<String> {
        let (qname, declare) = Self::qualified(name);
        let mut start = BytesStart::new(qname.as_str());
        if root {
            for (ns, prefix) in PREFIXES {
                start.push_attribute((format!("xmlns:{prefix}").as_str(), ns));
            }
        }
        if let Some(ns) = &declare {
            start.push_attribute(("xmlns:x", ns.as_str()));
        }
        for (k, v) in attributes {
            start.push_attribute((*k, v.as_str()));
        }
        self.writer.write_event(if empty { Event::Empty(start) } else { Event::Start(start) })?;
        Ok(qname)
    }

    fn end(&mut self, qname: &str) -> io::Result<()> {
        self.writer.write_event(Event::End(BytesEnd::new(qname)))
    }

    fn text_element(&mut self, name: &Name, text: &str) -> io::Result<()> {
        let q = self.start(name, &[], false, false)?;
        self.writer.write_event(Event::Text(BytesText::new(text)))?;
        self.end(&q)
    }

    fn node(&mut self, node: &Node) -> io::Result<()> {
        let empty = node.children.is_empty() && node.text.is_none();
        let q = self.start(&node.name, &node.attributes, false, empty)?;
        if empty {
            return Ok(());
        }
        if let Some(text) = &node.text {
            self.writer.write_event(Event::Text(BytesText::new(text)))?;
        }
        for child in &node.children {
            self.node(child)?;
        }
        self.end(&q)
    }

    fn value(&mut self, name: &Name, value: Option<&Value>) -> io::Result<()> {
        let Some(value) = value.filter(|v| **v != Value::Empty) else {
            self.start(name, &[], false, true)?;
            return Ok(());
        };
        let q = self.start(name, &[], false, false)?;
        match value {
            Value::Empty => {}
            Value::Text(t) => self.writer.write_event(Event::Text(BytesText::new(t)))?,
            Value::Href(h) => self.text_element(&Name::dav("href"), h)?,
            Value::Hrefs(hs) => {
                for h in hs {
                    self.text_element(&Name::dav("href"), h)?;
                }
            }
            Value::Nodes(nodes) => {
                for n in nodes {
                    self.node(n)?;
                }
            }
        }
        self.end(&q)
    }

    fn finish(self) -> Vec<u8> {
        self.writer.into_inner()
    }
}

impl Multistatus {
    /// The XML of the answer. (Writing into memory fails only if the
    /// allocator does; the error is passed on rather than unwrapped.)
    pub fn to_xml(&self) -> io::Result<Vec<u8>> {
        let mut out = Out::new()?;
        let root = out.start(&Name::dav("multistatus"), &[], true, false)?;
        for r in &self.responses {
            let response = out.start(&Name::dav("response"), &[], false, false)?;
            out.text_element(&Name::dav("href"), &r.href)?;
            if let Some(status) = r.status {
                out.text_element(&Name::dav("status"), &status_line(status))?;
            }
            for ps in &r.propstats {
                let propstat = out.start(&Name::dav("propstat"), &[], false, false)?;
                let prop = out.start(&Name::dav("prop"), &[], false, false)?;
                for (name, value) in &ps.props {
                    out.value(name, value.as_ref())?;
                }
                out.end(&prop)?;
                out.text_element(&Name::dav("status"), &status_line(ps.status))?;
                out.end(&propstat)?;
            }
            out.end(&response)?;
        }
        if let Some(token) = &self.sync_token {
            out.text_element(&Name::dav("sync-token"), token)?;
        }
        out.end(&root)?;
        Ok(out.finish())
    }
}

/// A `DAV:error` body naming the precondition that failed, with a sentence
/// for people reading a client's log.
pub fn error(condition: Node, reason: Option<&str>) -> io::Result<Vec<u8>> {
    let mut out = Out::new()?;
    let root = out.start(&Name::dav("error"), &[], true, false)?;
    out.node(&condition)?;
    if let Some(reason) = reason {
        out.text_element(&Name::ontask("reason"), reason)?;
    }
    out.end(&root)?;
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::prop;
    use crate::tree;

    #[test]
    fn a_multistatus_reads_back_with_its_namespaces() {
        let ms = Multistatus {
            responses: vec![
                Response::props(
                    "/dav/calendars/u/p/",
                    vec![
                        (prop::RESOURCETYPE, Value::elements(&[Name::dav("collection"), Name::caldav("calendar")])),
                        (prop::DISPLAYNAME, Value::Text("Home & <garden>".into())),
                        (prop::GETCTAG, Value::Text("7".into())),
                    ],
                    vec![Name::new("urn:x-other", "colour")],
                ),
                Response::status("/dav/calendars/u/p/gone.ics", 404),
            ],
            sync_token: Some("urn:t:7".into()),
        };
        let xml = ms.to_xml().unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(text.contains(r#"<x:colour xmlns:x="urn:x-other"/>"#), "{text}");
        let doc = tree::parse(&xml).unwrap();
        assert!(doc.is(DAV, "multistatus"));
        let first = &doc.children[0];
        let ok = &first.children[1];
        assert_eq!(ok.child(DAV, "status").unwrap().text, "HTTP/1.1 200 OK");
        let props = ok.child(DAV, "prop").unwrap();
        assert_eq!(props.child(DAV, "displayname").unwrap().text, "Home & <garden>");
        assert!(props.child(DAV, "resourcetype").unwrap().child(CALDAV, "calendar").is_some());
        assert!(props.child(CALENDARSERVER, "getctag").is_some());
        let missing = &first.children[2];
        assert_eq!(missing.child(DAV, "status").unwrap().text, "HTTP/1.1 404 Not Found");
        assert!(missing.child(DAV, "prop").unwrap().child("urn:x-other", "colour").is_some());
        assert_eq!(doc.children[1].child(DAV, "status").unwrap().text, "HTTP/1.1 404 Not Found");
        assert_eq!(doc.child(DAV, "sync-token").unwrap().text, "urn:t:7");
    }

    #[test]
    fn an_error_names_its_precondition() {
        let xml = error(Node::new(Name::dav("valid-sync-token")), Some("unknown token")).unwrap();
        let doc = tree::parse(&xml).unwrap();
        assert!(doc.is(DAV, "error") && doc.child(DAV, "valid-sync-token").is_some());
        assert_eq!(doc.child(ONTASK, "reason").unwrap().text, "unknown token");
    }
}
