//! How a request says who sends it, read the same way by every front door:
//! the REST API, the web UI and MCP over HTTP. (Checking what it says is
//! [`crate::auth::Auth::authenticate`].)
use http::{HeaderMap, Method, header};

/// The cookie a browser session's token travels in (HttpOnly, SameSite=Lax).
pub const SESSION_COOKIE: &str = "ontask_session";

/// The token of `Authorization: Bearer <token>`, if one is given.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

/// Whether a request may change something on the strength of the session
/// cookie alone: a browser sends `Origin` on cross-site requests, and it must
/// name this server. Reads (GET, HEAD, OPTIONS) change nothing, so they pass.
pub fn same_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split("://").nth(1).unwrap_or(origin) == host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), v.parse().unwrap())).collect()
    }

    #[test]
    fn a_bearer_token_is_read_in_either_case_and_an_empty_one_is_none() {
        assert_eq!(bearer_token(&headers(&[(header::AUTHORIZATION, "Bearer ot_abc ")])), Some("ot_abc"));
        assert_eq!(bearer_token(&headers(&[(header::AUTHORIZATION, "bearer ot_abc")])), Some("ot_abc"));
        assert_eq!(bearer_token(&headers(&[(header::AUTHORIZATION, "Bearer  ")])), None);
        assert_eq!(bearer_token(&headers(&[(header::AUTHORIZATION, "Basic eDp5")])), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn only_changes_from_another_site_are_refused() {
        let host = (header::HOST, "tasks.example.com");
        let ours = headers(&[host.clone(), (header::ORIGIN, "https://tasks.example.com")]);
        let theirs = headers(&[host.clone(), (header::ORIGIN, "https://evil.example")]);
        assert!(same_site(&Method::POST, &ours));
        assert!(!same_site(&Method::POST, &theirs));
        assert!(!same_site(&Method::DELETE, &theirs));
        assert!(same_site(&Method::GET, &theirs), "a read changes nothing");
        assert!(same_site(&Method::POST, &headers(&[host])), "no Origin: not a cross-site browser request");
    }
}
