//! The properties of each kind of resource, and PROPFIND's answers. A
//! property asked for that a resource does not have is answered 404 in its
//! own propstat, as RFC 4918 section 9.1 requires, never dropped.
use ontask_app::caldav::{Calendar, Collection, Resource};
use ontask_dav::name::prop;
use ontask_dav::request::PropRequest;
use ontask_dav::response::{Node, Propstat};
use ontask_dav::{Depth, Multistatus, Name, Response, Value};
use ontask_domain::ProjectId;
use ontask_ical::Resources;

use super::{DavCaller, calendar_href, home_href, object_href, principal_href};

/// The content type of a task's resource.
pub const TODO_CONTENT_TYPE: &str = "text/calendar; charset=utf-8; component=VTODO";

/// A collection's version as an RFC 6578 sync token (a URI), tied to the
/// collection, so that a token of another calendar is recognised as not this one's.
pub fn sync_token(project: ProjectId, version: i64) -> String {
    format!("urn:x-ontask:sync:{project}:{version}")
}

/// The version a token of this collection stands for; `None` for any
/// token it did not issue.
pub fn token_version(project: ProjectId, token: &str) -> Option<i64> {
    let rest = token.strip_prefix("urn:x-ontask:sync:")?;
    let (of, version) = rest.rsplit_once(':')?;
    (ProjectId::parse(of).ok()? == project).then_some(())?;
    version.parse::<i64>().ok().filter(|v| *v >= 0)
}

/// One resource's answer to `request`: `all` are its properties (what
/// `allprop` and `propname` name), `lookup` gives a property's value.
fn respond(
    href: String,
    request: &PropRequest,
    all: &[Name],
    mut lookup: impl FnMut(&Name) -> Option<Value>,
) -> Response {
    let asked: Vec<Name> = match request {
        PropRequest::PropName => {
            let props = all.iter().map(|n| (n.clone(), None)).collect();
            return Response { href, status: None, propstats: vec![Propstat { status: 200, props }] };
        }
        PropRequest::AllProp(include) => {
            all.iter().chain(include.iter().filter(|n| !all.contains(n))).cloned().collect()
        }
        PropRequest::Props(names) => names.clone(),
    };
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for name in asked {
        match lookup(&name) {
            Some(value) => found.push((name, value)),
            None => missing.push(name),
        }
    }
    Response::props(href, found, missing)
}

/// What every resource answers: who is asking.
fn common(caller: &DavCaller, name: &Name) -> Option<Value> {
    (*name == prop::CURRENT_USER_PRINCIPAL).then(|| Value::Href(principal_href(caller.actor.user_id)))
}

const READ: [Name; 2] = [Name::dav("read"), Name::dav("read-current-user-privilege-set")];
/// `write` is claimed because clients (Apple's among them) read only it to
/// decide whether a calendar is read-only; properties are not writable and
/// PROPPATCH answers so.
const READ_WRITE: [Name; 6] = [
    Name::dav("read"),
    Name::dav("read-current-user-privilege-set"),
    Name::dav("write"),
    Name::dav("write-content"),
    Name::dav("bind"),
    Name::dav("unbind"),
];

pub fn root(caller: &DavCaller, request: &PropRequest, depth: Depth) -> Multistatus {
    const ALL: [Name; 3] = [prop::RESOURCETYPE, prop::DISPLAYNAME, prop::CURRENT_USER_PRINCIPAL];
    let mut responses = vec![respond("/dav/".into(), request, &ALL, |name| match name {
        n if *n == prop::RESOURCETYPE => Some(Value::elements(&[Name::dav("collection")])),
        n if *n == prop::DISPLAYNAME => Some(Value::Text("ontask".into())),
        n => common(caller, n),
    })];
    if depth != Depth::Zero {
        responses.push(principal_response(caller, request));
        responses.extend(home(caller, request, &[]).responses);
    }
    Multistatus { responses, sync_token: None }
}

fn principal_response(caller: &DavCaller, request: &PropRequest) -> Response {
    const ALL: [Name; 6] = [
        prop::RESOURCETYPE,
        prop::DISPLAYNAME,
        prop::PRINCIPAL_URL,
        prop::CALENDAR_HOME_SET,
        prop::CALENDAR_USER_ADDRESS_SET,
        prop::CURRENT_USER_PRINCIPAL,
    ];
    let user = caller.actor.user_id;
    respond(principal_href(user), request, &ALL, |name| match name {
        n if *n == prop::RESOURCETYPE => Some(Value::elements(&[Name::dav("principal")])),
        n if *n == prop::DISPLAYNAME => Some(Value::Text(if caller.user.name.is_empty() {
            caller.user.email.clone()
        } else {
            caller.user.name.clone()
        })),
        n if *n == prop::PRINCIPAL_URL => Some(Value::Href(principal_href(user))),
        n if *n == prop::CALENDAR_HOME_SET => Some(Value::Href(home_href(user))),
        n if *n == prop::CALENDAR_USER_ADDRESS_SET => Some(Value::Hrefs(vec![format!("mailto:{}", caller.user.email)])),
        n if *n == prop::CURRENT_USER_PRIVILEGE_SET => Some(Value::privileges(&READ)),
        n => common(caller, n),
    })
}

pub fn principal(caller: &DavCaller, request: &PropRequest) -> Multistatus {
    Multistatus { responses: vec![principal_response(caller, request)], sync_token: None }
}

/// The calendar home, and (for Depth: 1) each calendar in it.
pub fn home(caller: &DavCaller, request: &PropRequest, calendars: &[Calendar]) -> Multistatus {
    const ALL: [Name; 3] = [prop::RESOURCETYPE, prop::DISPLAYNAME, prop::OWNER];
    let user = caller.actor.user_id;
    let mut responses = vec![respond(home_href(user), request, &ALL, |name| match name {
        n if *n == prop::RESOURCETYPE => Some(Value::elements(&[Name::dav("collection")])),
        n if *n == prop::DISPLAYNAME => Some(Value::Text("Projects".into())),
        n if *n == prop::OWNER => Some(Value::Href(principal_href(user))),
        n if *n == prop::CURRENT_USER_PRIVILEGE_SET => Some(Value::privileges(&READ)),
        n => common(caller, n),
    })];
    responses.extend(calendars.iter().map(|c| calendar_response(caller, c, request)));
    Multistatus { responses, sync_token: None }
}

fn calendar_response(caller: &DavCaller, calendar: &Calendar, request: &PropRequest) -> Response {
    const ALL: [Name; 11] = [
        prop::RESOURCETYPE,
        prop::DISPLAYNAME,
        prop::CALENDAR_DESCRIPTION,
        prop::GETCTAG,
        prop::SYNC_TOKEN,
        prop::SUPPORTED_CALENDAR_COMPONENT_SET,
        prop::SUPPORTED_CALENDAR_DATA,
        prop::SUPPORTED_REPORT_SET,
        prop::CURRENT_USER_PRIVILEGE_SET,
        prop::CALENDAR_COLOR,
        prop::CALENDAR_ORDER,
    ];
    let project = &calendar.project;
    let token = sync_token(project.id, calendar.version);
    respond(calendar_href(caller.actor.user_id, project.id), request, &ALL, |name| match name {
        n if *n == prop::RESOURCETYPE => Some(Value::elements(&[Name::dav("collection"), Name::caldav("calendar")])),
        n if *n == prop::DISPLAYNAME => Some(Value::Text(project.name.as_str().to_owned())),
        n if *n == prop::CALENDAR_DESCRIPTION => {
            (!project.description.is_empty()).then(|| Value::Text(project.description.as_str().to_owned()))
        }
        n if *n == prop::GETCTAG || *n == prop::SYNC_TOKEN => Some(Value::Text(token.clone())),
        n if *n == prop::SUPPORTED_CALENDAR_COMPONENT_SET => Some(Value::components(&["VTODO"])),
        n if *n == prop::SUPPORTED_CALENDAR_DATA => Some(Value::Nodes(vec![
            Node::new(prop::CALENDAR_DATA).attribute("content-type", "text/calendar").attribute("version", "2.0"),
        ])),
        n if *n == prop::SUPPORTED_REPORT_SET => Some(Value::reports(&[
            Name::caldav("calendar-query"),
            Name::caldav("calendar-multiget"),
            Name::dav("sync-collection"),
        ])),
        n if *n == prop::CURRENT_USER_PRIVILEGE_SET => {
            Some(if calendar.writable() { Value::privileges(&READ_WRITE) } else { Value::privileges(&READ) })
        }
        n if *n == prop::CALENDAR_COLOR => Some(Value::Text(project.colour.hex().to_owned())),
        n if *n == prop::CALENDAR_ORDER => Some(Value::Text(project.position.to_string())),
        n => common(caller, n),
    })
}

/// A calendar, and (for Depth: 1) each of its resources.
pub fn calendar(
    caller: &DavCaller,
    collection: &Collection,
    resources: &[Resource],
    request: &PropRequest,
) -> Multistatus {
    let mut responses = vec![calendar_response(caller, &collection.calendar, request)];
    let mut writer = Resources::new();
    responses.extend(resources.iter().map(|r| object(caller, collection, r, request, &mut writer, None)));
    Multistatus { responses, sync_token: None }
}

/// One task's resource. `href` is the one the client named it by, when it
/// did (a multiget answers in the client's words).
pub fn object(
    caller: &DavCaller,
    collection: &Collection,
    resource: &Resource,
    request: &PropRequest,
    writer: &mut Resources,
    href: Option<&str>,
) -> Response {
    const ALL: [Name; 4] = [prop::RESOURCETYPE, prop::GETETAG, prop::GETCONTENTTYPE, prop::GETLASTMODIFIED];
    let href = href.map_or_else(
        || object_href(caller.actor.user_id, collection.calendar.project.id, &resource.name),
        str::to_owned,
    );
    respond(href, request, &ALL, |name| match name {
        n if *n == prop::RESOURCETYPE => Some(Value::Empty),
        n if *n == prop::GETETAG => Some(Value::Text(resource.etag())),
        n if *n == prop::GETCONTENTTYPE => Some(Value::Text(TODO_CONTENT_TYPE.into())),
        n if *n == prop::GETLASTMODIFIED => Some(Value::Text(http_date(resource.task.updated_at))),
        n if *n == prop::CALENDAR_DATA => Some(Value::Text(collection.write(writer, &resource.task))),
        n if *n == prop::GETCONTENTLENGTH => {
            Some(Value::Text(collection.write(writer, &resource.task).len().to_string()))
        }
        n => common(caller, n),
    })
}

/// PROPPATCH: properties are ontask's (a project's name and colour are
/// changed in ontask), so each is refused, as RFC 4918 section 9.2 answers.
pub fn refused(href: String, names: Vec<Name>) -> Multistatus {
    let props = names.into_iter().map(|n| (n, None)).collect();
    Multistatus {
        responses: vec![Response { href, status: None, propstats: vec![Propstat { status: 403, props }] }],
        sync_token: None,
    }
}

/// An HTTP-date (RFC 9110 section 5.6.7), as `getlastmodified` holds.
pub fn http_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tokens_name_their_collection() {
        let (p, q) = (ProjectId::new(), ProjectId::new());
        assert_eq!(token_version(p, &sync_token(p, 42)), Some(42));
        assert_eq!(token_version(q, &sync_token(p, 42)), None);
        for bad in ["", "42", "urn:x-ontask:sync:", "http://other.example/sync/1"] {
            assert_eq!(token_version(p, bad), None, "{bad}");
        }
        assert_eq!(token_version(p, &format!("urn:x-ontask:sync:{p}:-1")), None);
    }

    #[test]
    fn unknown_props_get_a_404_propstat_and_propname_lists_names() {
        let all = [prop::GETETAG];
        let asked = PropRequest::Props(vec![prop::GETETAG, Name::new("urn:x", "nope")]);
        let r = respond("/a".into(), &asked, &all, |n| (*n == prop::GETETAG).then(|| Value::Text("\"1\"".into())));
        assert_eq!(r.propstats.len(), 2);
        assert_eq!((r.propstats[0].status, r.propstats[1].status), (200, 404));
        assert_eq!(r.propstats[1].props, [(Name::new("urn:x", "nope"), None)]);
        let names = respond("/a".into(), &PropRequest::PropName, &all, |_| None);
        assert_eq!(names.propstats[0].props, [(prop::GETETAG, None)]);
    }
}
