//! The WebDAV (RFC 4918) and CalDAV (RFC 4791) XML that ontask's CalDAV
//! server speaks, and nothing of ontask itself: request bodies parsed into
//! typed requests, and typed answers written as XML. The HTTP handlers
//! (`ontask-api`, `routes/dav`) decide what the answers hold.
//!
//! # Layout
//! - [`name`]: namespaced element names, the namespaces and properties used.
//! - [`tree`]: a request body as a tree of namespaced elements (quick-xml's
//!   namespace-resolving reader; no DTDs, so no entity expansion).
//! - [`request`]: PROPFIND, REPORT (calendar-query, calendar-multiget,
//!   sync-collection) and the `Depth` header.
//! - [`filter`]: a calendar-query's filter, evaluated against a VTODO.
//! - [`response`]: the 207 multistatus and the `DAV:error` body.
#![forbid(unsafe_code)]

pub mod filter;
pub mod name;
pub mod request;
pub mod response;
pub mod tree;

pub use name::Name;
pub use request::{Depth, PropRequest, Report};
pub use response::{Multistatus, Node, Propstat, Response, Value};
pub use tree::{BadXml, Element};
