//! Element names: a namespace and a local name, as the XML Namespaces
//! recommendation compares them (the prefix a client chose means nothing).
use std::borrow::Cow;
use std::fmt;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Calendar Server extensions: `getctag`, which every CalDAV client reads.
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
/// Apple's iCal extensions: a calendar's colour and order.
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";
/// ontask's own: the reason written into a `DAV:error`.
pub const ONTASK: &str = "urn:x-ontask:dav";

/// A namespaced name (`{DAV:}getetag`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    pub ns: Cow<'static, str>,
    pub local: Cow<'static, str>,
}

impl Name {
    pub fn new(ns: impl Into<Cow<'static, str>>, local: impl Into<Cow<'static, str>>) -> Self {
        Self { ns: ns.into(), local: local.into() }
    }

    pub const fn dav(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(DAV), local: Cow::Borrowed(local) }
    }

    pub const fn caldav(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(CALDAV), local: Cow::Borrowed(local) }
    }

    pub const fn calendarserver(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(CALENDARSERVER), local: Cow::Borrowed(local) }
    }

    pub const fn apple(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(APPLE_ICAL), local: Cow::Borrowed(local) }
    }

    pub const fn ontask(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(ONTASK), local: Cow::Borrowed(local) }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.ns, self.local)
    }
}

/// The properties ontask's resources have.
pub mod prop {
    use super::Name;

    pub const RESOURCETYPE: Name = Name::dav("resourcetype");
    pub const DISPLAYNAME: Name = Name::dav("displayname");
    pub const GETETAG: Name = Name::dav("getetag");
    pub const GETCONTENTTYPE: Name = Name::dav("getcontenttype");
    pub const GETCONTENTLENGTH: Name = Name::dav("getcontentlength");
    pub const GETLASTMODIFIED: Name = Name::dav("getlastmodified");
    pub const CURRENT_USER_PRINCIPAL: Name = Name::dav("current-user-principal");
    pub const PRINCIPAL_URL: Name = Name::dav("principal-URL");
    pub const PRINCIPAL_COLLECTION_SET: Name = Name::dav("principal-collection-set");
    pub const OWNER: Name = Name::dav("owner");
    pub const CURRENT_USER_PRIVILEGE_SET: Name = Name::dav("current-user-privilege-set");
    pub const SUPPORTED_REPORT_SET: Name = Name::dav("supported-report-set");
    pub const SYNC_TOKEN: Name = Name::dav("sync-token");
    pub const CALENDAR_HOME_SET: Name = Name::caldav("calendar-home-set");
    pub const CALENDAR_USER_ADDRESS_SET: Name = Name::caldav("calendar-user-address-set");
    pub const CALENDAR_DESCRIPTION: Name = Name::caldav("calendar-description");
    pub const SUPPORTED_CALENDAR_COMPONENT_SET: Name = Name::caldav("supported-calendar-component-set");
    pub const SUPPORTED_CALENDAR_DATA: Name = Name::caldav("supported-calendar-data");
    pub const MAX_RESOURCE_SIZE: Name = Name::caldav("max-resource-size");
    pub const CALENDAR_DATA: Name = Name::caldav("calendar-data");
    pub const GETCTAG: Name = Name::calendarserver("getctag");
    pub const CALENDAR_COLOR: Name = Name::apple("calendar-color");
    pub const CALENDAR_ORDER: Name = Name::apple("calendar-order");
}
