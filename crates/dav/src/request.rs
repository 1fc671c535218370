//! What a client asks: the `Depth` header, a PROPFIND body (RFC 4918
//! section 9.1) and the REPORTs a CalDAV server answers: calendar-query and
//! calendar-multiget (RFC 4791 section 7.8, 7.9) and sync-collection
//! (RFC 6578 section 3.2).
use crate::Name;
use crate::filter::Filter;
use crate::name::{CALDAV, DAV};
use crate::tree::{self, BadXml, Element};

/// How far below the resource a PROPFIND or REPORT reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

impl Depth {
    /// The `Depth` header, or `default` without one (RFC 4918: infinity for
    /// PROPFIND; RFC 3253: 0 for REPORT).
    pub fn parse(header: Option<&str>, default: Depth) -> Result<Depth, BadXml> {
        match header.map(str::trim) {
            None => Ok(default),
            Some("0") => Ok(Depth::Zero),
            Some("1") => Ok(Depth::One),
            Some(v) if v.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
            Some(v) => Err(BadXml::new(format!("Depth must be 0, 1 or infinity, not {v:?}"))),
        }
    }
}

/// Which properties to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    /// `allprop` (or an empty PROPFIND body): every property the server
    /// defines as part of it, and these ones besides (`include`).
    AllProp(Vec<Name>),
    /// `propname`: the names of the properties, without values.
    PropName,
    /// `prop`: these properties, each answered or reported missing.
    Props(Vec<Name>),
}

fn prop_request(parent: &Element) -> Result<PropRequest, BadXml> {
    if parent.child(DAV, "propname").is_some() {
        return Ok(PropRequest::PropName);
    }
    if parent.child(DAV, "allprop").is_some() {
        let include = parent.child(DAV, "include").map(names).unwrap_or_default();
        return Ok(PropRequest::AllProp(include));
    }
    match parent.child(DAV, "prop") {
        Some(prop) => Ok(PropRequest::Props(names(prop))),
        None => Err(BadXml::new(format!("{} asks for no properties (prop, allprop or propname)", parent.name))),
    }
}

fn names(parent: &Element) -> Vec<Name> {
    let mut out: Vec<Name> = Vec::new();
    for c in &parent.children {
        if !out.contains(&c.name) {
            out.push(c.name.clone());
        }
    }
    out
}

/// A PROPFIND body; an empty one asks for `allprop`.
pub fn propfind(body: &[u8]) -> Result<PropRequest, BadXml> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropRequest::AllProp(Vec::new()));
    }
    let root = tree::parse(body)?;
    if !root.is(DAV, "propfind") {
        return Err(BadXml::new(format!("a PROPFIND body is a DAV:propfind, not {}", root.name)));
    }
    prop_request(&root)
}

/// The properties a PROPPATCH sets or removes (RFC 4918 section 9.2), in
/// the order given.
pub fn proppatch(body: &[u8]) -> Result<Vec<Name>, BadXml> {
    let root = tree::parse(body)?;
    if !root.is(DAV, "propertyupdate") {
        return Err(BadXml::new(format!("a PROPPATCH body is a DAV:propertyupdate, not {}", root.name)));
    }
    let mut out = Vec::new();
    for change in root.children.iter().filter(|c| c.is(DAV, "set") || c.is(DAV, "remove")) {
        for prop in change.children_named(DAV, "prop") {
            out.extend(names(prop));
        }
    }
    Ok(out)
}

/// How deep a sync-collection reaches (RFC 6578 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    One,
    Infinite,
}

/// A REPORT body.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    CalendarQuery {
        props: PropRequest,
        filter: Filter,
    },
    CalendarMultiget {
        props: PropRequest,
        hrefs: Vec<String>,
    },
    /// `token` is `None` for the initial sync (an empty `sync-token`).
    SyncCollection {
        token: Option<String>,
        level: SyncLevel,
        props: PropRequest,
        limit: Option<u32>,
    },
    /// A report this server does not answer (`DAV:supported-report`).
    Unsupported(Name),
}

/// A REPORT body.
pub fn report(body: &[u8]) -> Result<Report, BadXml> {
    let root = tree::parse(body)?;
    if root.is(CALDAV, "calendar-query") {
        let props = optional_props(&root)?;
        let filter = match root.child(CALDAV, "filter") {
            Some(f) => Filter::parse(f)?,
            None => return Err(BadXml::new("a calendar-query needs a CALDAV:filter")),
        };
        return Ok(Report::CalendarQuery { props, filter });
    }
    if root.is(CALDAV, "calendar-multiget") {
        let props = optional_props(&root)?;
        let hrefs: Vec<String> = root.children_named(DAV, "href").map(|h| h.text.clone()).collect();
        if hrefs.is_empty() {
            return Err(BadXml::new("a calendar-multiget names at least one DAV:href"));
        }
        return Ok(Report::CalendarMultiget { props, hrefs });
    }
    if root.is(DAV, "sync-collection") {
        let token = root.child(DAV, "sync-token").map(|t| t.text.clone()).filter(|t| !t.is_empty());
        let level = match root.child(DAV, "sync-level").map(|l| l.text.as_str()) {
            Some("1") => SyncLevel::One,
            Some(l) if l.eq_ignore_ascii_case("infinite") => SyncLevel::Infinite,
            Some(l) => return Err(BadXml::new(format!("sync-level must be 1 or infinite, not {l:?}"))),
            None => return Err(BadXml::new("a sync-collection needs a DAV:sync-level")),
        };
        let limit = match root.child(DAV, "limit").and_then(|l| l.child(DAV, "nresults")) {
            Some(n) => Some(n.text.parse::<u32>().map_err(|_| BadXml::new("nresults must be a whole number"))?),
            None => None,
        };
        let props = prop_request(&root)?;
        return Ok(Report::SyncCollection { token, level, props, limit });
    }
    Ok(Report::Unsupported(root.name))
}

/// A report's properties; without any, RFC 4791 reads `allprop`.
fn optional_props(root: &Element) -> Result<PropRequest, BadXml> {
    let asks = ["prop", "allprop", "propname"].iter().any(|p| root.child(DAV, p).is_some());
    if asks { prop_request(root) } else { Ok(PropRequest::AllProp(Vec::new())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::prop;

    #[test]
    fn propfind_bodies() {
        assert_eq!(propfind(b"").unwrap(), PropRequest::AllProp(Vec::new()));
        let body = br#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:getetag/><cs:getctag/><d:getetag/><x:unknown xmlns:x="urn:x"/></d:prop></d:propfind>"#;
        let PropRequest::Props(props) = propfind(body).unwrap() else { panic!("props") };
        assert_eq!(props, [prop::GETETAG, prop::GETCTAG, Name::new("urn:x", "unknown")]);
        assert_eq!(propfind(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(), PropRequest::PropName);
        let all = br#"<propfind xmlns="DAV:"><allprop/><include><sync-token/></include></propfind>"#;
        assert_eq!(propfind(all).unwrap(), PropRequest::AllProp(vec![prop::SYNC_TOKEN]));
        assert!(propfind(br#"<propfind xmlns="DAV:"/>"#).is_err());
        assert!(propfind(br#"<propertyupdate xmlns="DAV:"/>"#).is_err());
        assert!(propfind(b"<propfind").is_err());
    }

    #[test]
    fn proppatch_bodies() {
        let body = br#"<d:propertyupdate xmlns:d="DAV:" xmlns:i="http://apple.com/ns/ical/"><d:set><d:prop><i:calendar-color>#ff0000</i:calendar-color></d:prop></d:set><d:remove><d:prop><d:displayname/></d:prop></d:remove></d:propertyupdate>"#;
        assert_eq!(proppatch(body).unwrap(), [prop::CALENDAR_COLOR, prop::DISPLAYNAME]);
        assert!(proppatch(br#"<propfind xmlns="DAV:"/>"#).is_err());
    }

    #[test]
    fn depth_header() {
        assert_eq!(Depth::parse(None, Depth::Infinity).unwrap(), Depth::Infinity);
        assert_eq!(Depth::parse(Some(" 1"), Depth::Zero).unwrap(), Depth::One);
        assert_eq!(Depth::parse(Some("Infinity"), Depth::Zero).unwrap(), Depth::Infinity);
        assert!(Depth::parse(Some("2"), Depth::Zero).is_err());
    }

    #[test]
    fn reports() {
        let multiget = br#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
            <d:prop><d:getetag/><c:calendar-data/></d:prop><d:href>/dav/a.ics</d:href><d:href>/dav/b.ics</d:href>
            </c:calendar-multiget>"#;
        let Report::CalendarMultiget { props, hrefs } = report(multiget).unwrap() else { panic!("multiget") };
        assert_eq!(props, PropRequest::Props(vec![prop::GETETAG, prop::CALENDAR_DATA]));
        assert_eq!(hrefs, ["/dav/a.ics", "/dav/b.ics"]);

        let sync = br#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;
        let Report::SyncCollection { token, level, .. } = report(sync).unwrap() else { panic!("sync") };
        assert_eq!((token, level), (None, SyncLevel::One));
        let again = br#"<sync-collection xmlns="DAV:"><sync-token>urn:t:5</sync-token><sync-level>infinite</sync-level><limit><nresults>10</nresults></limit><prop/></sync-collection>"#;
        let Report::SyncCollection { token, limit, .. } = report(again).unwrap() else { panic!("sync") };
        assert_eq!((token.as_deref(), limit), (Some("urn:t:5"), Some(10)));
        let no_level = br#"<sync-collection xmlns="DAV:"><sync-token/><prop/></sync-collection>"#;
        assert!(report(no_level).is_err());

        let query = br#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
            <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter></C:filter></C:calendar-query>"#;
        assert!(matches!(report(query).unwrap(), Report::CalendarQuery { .. }));
        let expand = br#"<x:free-busy-query xmlns:x="urn:ietf:params:xml:ns:caldav"/>"#;
        assert_eq!(report(expand).unwrap(), Report::Unsupported(Name::caldav("free-busy-query")));
    }
}
