use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

use super::environment::is_service_link;
use super::load::one_line;
use super::*;
use ontask_app::auth::AuthSettings;

#[test]
fn roles_parse() {
    assert!(Roles::parse("all").unwrap().relay);
    let r = Roles::parse("api,scheduler").unwrap();
    assert!(r.api && r.scheduler && !r.worker);
    assert!(Roles::parse("api,cook").is_err());
    assert!(Roles::parse("").is_err());
}

#[test]
fn intervals_that_would_overflow_the_clock_are_refused() {
    let mut c = Config::default();
    c.realtime.ping_secs = u64::MAX;
    assert!(c.validate().is_err_and(|e| e.0.contains("realtime.ping_secs")));
    let mut c = Config::default();
    c.circuit_breakers.open_for = Duration::MAX;
    assert!(c.validate().is_err_and(|e| e.0.contains("circuit_breakers.open_secs")));
    assert!(Config::default().validate().is_ok());
}

#[test]
fn secrets_are_redacted() {
    let mut c = Config::default();
    c.auth.jwt_secret = Some(Secret::from("x".repeat(40)));
    assert!(!c.to_toml().contains("xxxx"));
    assert!(format!("{c:?}").contains("***"));
}

/// What the environment layer makes of `ONTASK_AUTH__PREVIOUS_JWT_SECRETS`.
fn with_previous_secrets(raw: &str) -> Result<Config, String> {
    let value: figment::value::Value = raw.parse().expect("infallible");
    Figment::from(Serialized::defaults(Config::default()))
        .merge(Serialized::default("auth.previous_jwt_secrets", value))
        .extract()
        .map_err(|e| one_line(&e))
}

#[test]
fn previous_session_secrets_are_a_list_or_one_checked_and_hidden() {
    let (a, b) = ("a".repeat(32), format!("{}+/=,", "b".repeat(40)));
    let c = with_previous_secrets(&format!("[\"{a}\", \"{b}\"]")).expect("a quoted list");
    let secrets: Vec<&str> = c.auth.previous_jwt_secrets.iter().map(Secret::expose).collect();
    assert_eq!(secrets, [a.as_str(), b.as_str()]);
    c.validate().expect("valid");
    assert!(!c.to_toml().contains("aaaa") && !format!("{c:?}").contains("aaaa"), "{}", c.to_toml());
    assert_eq!(c.to_toml().matches("\"***\"").count(), 2, "each shown as ***: {}", c.to_toml());

    let c = with_previous_secrets(&b).expect("one secret as it is");
    assert_eq!(c.auth.previous_jwt_secrets.iter().map(Secret::expose).collect::<Vec<_>>(), [b.as_str()]);
    assert!(with_previous_secrets("").expect("empty").auth.previous_jwt_secrets.is_empty());

    let c = with_previous_secrets(&format!("[\"{a}\", \"short\"]")).expect("parses");
    assert_eq!(c.validate().unwrap_err().0, "auth.previous_jwt_secrets: secret 2 of 2 is shorter than 32 bytes");
    let mut c = Config::default();
    assert_eq!(c.auth.previous_secret_grace, Duration::from_secs(24 * 3600));
    c.auth.previous_secret_grace = Duration::from_secs(367 * 24 * 3600);
    assert!(c.validate().unwrap_err().0.starts_with("auth.previous_secret_grace_hours"));
}

#[test]
fn the_model_key_is_redacted_and_a_model_url_needs_a_model() {
    let mut c = Config::default();
    c.agent.llm.base_url = Some("http://127.0.0.1:11434/v1".into());
    c.agent.llm.api_key = Some(Secret::from("sk-very-secret"));
    assert!(c.validate().expect_err("no model").0.contains("agent.llm.model"));
    c.agent.llm.model = Some("qwen2.5:7b".into());
    c.validate().expect("valid");
    assert!(!c.to_toml().contains("sk-very-secret"));
    assert!(!format!("{c:?}").contains("sk-very-secret"));
    c.agent.max_steps = 0;
    assert!(c.validate().expect_err("no steps").0.contains("agent.max_steps"));
}

#[test]
fn kafka_properties_take_env_style_keys_and_hide_credentials() {
    // What the environment layer yields for ONTASK_KAFKA__PROPERTIES__*: lower-cased
    // keys with `_`, and numbers as numbers.
    let toml = r#"
        [kafka.properties]
        security_protocol = "SASL_SSL"
        sasl_password = "hunter2-hunter2"
        message_timeout_ms = 5000
        "ssl.ca.location" = "/etc/ssl/ca.pem"
    "#;
    let c: Config = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(toml))
        .extract()
        .expect("valid config");
    let props = c.kafka.properties.as_map();
    assert_eq!(props["security.protocol"], "SASL_SSL");
    assert_eq!(props["sasl.password"], "hunter2-hunter2");
    assert_eq!(props["message.timeout.ms"], "5000");
    assert_eq!(props["ssl.ca.location"], "/etc/ssl/ca.pem");
    let printed = c.to_toml();
    assert!(!printed.contains("hunter2") && !format!("{c:?}").contains("hunter2"));
    assert!(printed.contains("SASL_SSL") && printed.contains("/etc/ssl/ca.pem"));
}

#[test]
fn smtp_needs_url_and_from_and_hides_the_url() {
    let mut c = Config::default();
    c.smtp.url = Some(Secret::from("smtp://user:hunter2@mail.example.com:587"));
    assert!(c.validate().unwrap_err().0.contains("smtp.from"));
    c.smtp.from = Some("ontask <noreply@example.com>".into());
    assert!(c.validate().is_ok());
    assert!(!c.to_toml().contains("hunter2") && !format!("{c:?}").contains("hunter2"));
    assert!(c.outbound(None).smtp.relay().is_some());
    c.smtp.url = Some(Secret::from("http://mail.example.com"));
    assert!(c.validate().unwrap_err().0.starts_with("smtp.url"));
}

#[test]
fn retention_is_configurable_and_checked() {
    let c = Config::default();
    assert!(c.to_toml().contains("[retention]\ninterval_secs = 3600\ninbox_days = 14\n"), "{}", c.to_toml());

    let toml = "[retention]\ninterval_secs = 60\ninbox_days = 7\nidempotency_hours = 48\n";
    let c: Config = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(toml))
        .extract()
        .expect("valid config");
    c.validate().expect("valid");
    let r = &c.retention;
    assert_eq!(r.interval, Duration::from_secs(60));
    assert_eq!(r.inbox, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(r.idempotency_keys, Duration::from_secs(48 * 3600));
    assert_eq!(r.deliveries, Duration::from_secs(30 * 24 * 3600), "unset keys keep their default");

    let mut c = Config::default();
    c.retention.inbox = Duration::ZERO;
    assert_eq!(c.validate().unwrap_err().0, "retention.inbox_days must be between 1 and 36500 (got 0)");
    c.retention.inbox = Duration::from_secs(14 * 24 * 3600);
    c.retention.interval = Duration::from_secs(86_401);
    assert!(c.validate().unwrap_err().0.starts_with("retention.interval_secs"));
    let typo = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string("[retention]\ninbox = 14\n"))
        .extract::<Config>();
    assert!(typo.is_err(), "unknown keys are refused");
}

#[test]
fn kubernetes_service_links_are_told_from_keys() {
    for (name, value) in [
        ("API_SERVICE_HOST", "10.96.12.7"),
        ("API_SERVICE_PORT", "8080"),
        ("API_SERVICE_PORT_HTTP", "8080"),
        ("API_PORT", "tcp://10.96.12.7:8080"),
        ("API_PORT_8080_TCP", "tcp://10.96.12.7:8080"),
        ("API_PORT_8080_TCP_PROTO", "tcp"),
        ("API_PORT_8080_TCP_PORT", "8080"),
        ("API_PORT_8080_TCP_ADDR", "10.96.12.7"),
        // A Service named after the release alone, and one on IPv6.
        ("SERVICE_HOST", "fd00::7"),
        ("PORT", "tcp://[fd00::7]:80"),
        ("PORT_53_UDP_PROTO", "udp"),
        // A Service whose own name holds a shape word.
        ("SERVICE_PORT_SERVICE_HOST", "10.0.0.1"),
        ("DAPR_PORT_PORT_3500_TCP_PORT", "3500"),
    ] {
        assert!(is_service_link(name, value), "{name}={value} is a service link");
    }
    for (name, value) in [
        // Real keys and their typos keep reaching the loader.
        ("LISTEN", "0.0.0.0:8080"),
        ("DAPR__HTTP_PORT", "3500"),
        ("LISTEN_PORT", "8080"),
        ("API_PORT", "8080"),
        ("API_SERVICE_HOST", "api.example.com"),
        ("API_SERVICE_PORT", "http"),
        ("API_SERVICE_PORT_", "8080"),
        ("API_PORT_8080_TCP", "tcp://10.96.12.7:9090"),
        ("API_PORT_8080_TCP_PROTO", "udp"),
        ("API_PORT_8080_HTTP_ADDR", "10.96.12.7"),
        ("API_PORT_8080_TCP_HOST", "10.96.12.7"),
        ("api_service_host", "10.96.12.7"),
    ] {
        assert!(!is_service_link(name, value), "{name}={value} is not a service link");
    }
}

#[test]
fn bad_values_are_rejected_with_their_key() {
    let read = |toml: &str| {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract::<Config>()
            .map_err(|e| one_line(&e))
    };
    let listen = read("listen = \"localhost\"").unwrap_err();
    assert!(listen.starts_with("listen: must be an address like 127.0.0.1:8080"), "{listen}");
    let role = read("role = \"api,cook\"").unwrap_err();
    assert!(role.starts_with("role: unknown role \"cook\""), "{role}");
    let parsed = read("listen = \"0.0.0.0:9000\"\nrole = \"api, worker\"").unwrap();
    assert_eq!(parsed.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
    assert_eq!((parsed.role.api, parsed.role.worker, parsed.role.web), (true, true, false));
    assert_eq!(parsed.role.to_string(), "api,worker");
    assert_eq!(Config::default().role.to_string(), "all");
    let header = read("[rate_limits]\nclient_address_header = \"x forwarded\"").unwrap_err();
    assert!(header.starts_with("rate_limits.client_address_header: is not a header name"), "{header}");
    let header = read("[rate_limits]\nclient_address_header = \" X-Forwarded-For \"").unwrap();
    assert_eq!(header.rate_limits.client_address_header.map(|h| h.to_string()).as_deref(), Some("x-forwarded-for"));
    let days = read(&format!("[retention]\ninbox_days = {}", i64::MAX)).unwrap_err();
    assert!(days.starts_with("retention.inbox_days: is too many days"), "{days}");

    let c = Config {
        auth: AuthSettings { jwt_secret: Some(Secret::from("short")), ..Default::default() },
        ..Default::default()
    };
    assert!(c.validate().unwrap_err().0.contains("jwt_secret"));
}
