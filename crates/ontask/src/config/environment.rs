//! Environment variables that are not ontask's own settings: what the Dapr
//! sidecar gives the app beside it, and the service links a kubelet adds.
use std::net::SocketAddr;

/// Variables the Dapr sidecar (or its SDK conventions) provide, and the keys they set.
pub(super) const DAPR_ENV: [(&str, &str); 4] = [
    ("DAPR_HTTP_PORT", "dapr.http_port"),
    ("DAPR_HTTP_ENDPOINT", "dapr.http_endpoint"),
    ("DAPR_API_TOKEN", "dapr.api_token"),
    ("APP_API_TOKEN", "dapr.app_api_token"),
];

/// Whether `name=value` (`name` without the `ONTASK_` prefix) is a variable the
/// kubelet gives every pod for every Service in its namespace ("service links").
/// With a release named `ontask`, the Service `ontask-api` yields
/// `ONTASK_API_SERVICE_HOST`, `ONTASK_API_SERVICE_PORT[_HTTP]`,
/// `ONTASK_API_PORT=tcp://10.0.0.1:8080` and `ONTASK_API_PORT_8080_TCP[_PROTO|_PORT|_ADDR]`.
/// The chart turns them off (`enableServiceLinks: false`), but other Services in
/// the namespace or an override bring them back. Both the name and the value must
/// have the kubelet's shape, so a mistyped real key (`ONTASK_LISTEN_PORT=8080`)
/// is still refused.
pub(super) fn is_service_link(name: &str, value: &str) -> bool {
    // The kubelet upper-cases the Service's name and turns `-` into `_`.
    if !name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
        return false;
    }
    // The Service's part of the name is free: try every `_` it could end at.
    std::iter::once(name)
        .chain(name.match_indices('_').map(|(at, _)| &name[at + 1..]))
        .any(|suffix| service_link_shape(suffix, value))
}

/// `suffix` is what follows the Service's name: `SERVICE_HOST`, `PORT_8080_TCP_ADDR`, ...
fn service_link_shape(suffix: &str, value: &str) -> bool {
    use std::net::IpAddr;
    let is_ip = |v: &str| v.parse::<IpAddr>().is_ok();
    let is_port = |v: &str| v.parse::<u16>().is_ok_and(|p| p > 0);
    // `tcp://10.0.0.1:8080`, `udp://[fd00::1]:53`; `port` pins the port when given.
    let is_url = |v: &str, port: Option<&str>| {
        v.split_once("://").is_some_and(|(proto, addr)| {
            matches!(proto, "tcp" | "udp" | "sctp")
                && addr.parse::<SocketAddr>().is_ok_and(|a| port.is_none_or(|p| a.port().to_string() == p))
        })
    };
    if suffix == "SERVICE_HOST" {
        return is_ip(value);
    }
    if let Some(port_name) = suffix.strip_prefix("SERVICE_PORT") {
        return (port_name.is_empty() || port_name.len() > 1 && port_name.starts_with('_')) && is_port(value);
    }
    if suffix == "PORT" {
        return is_url(value, None);
    }
    let Some(rest) = suffix.strip_prefix("PORT_") else { return false };
    let mut parts = rest.splitn(3, '_');
    let (Some(port), Some(proto)) = (parts.next(), parts.next()) else { return false };
    if !is_port(port) || !matches!(proto, "TCP" | "UDP" | "SCTP") {
        return false;
    }
    match parts.next() {
        None => is_url(value, Some(port)),
        Some("PROTO") => value == proto.to_ascii_lowercase(),
        Some("PORT") => value == port,
        Some("ADDR") => is_ip(value),
        Some(_) => false,
    }
}
