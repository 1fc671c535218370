//! Which parts of ontask a process runs (`role`).
use serde::{Deserialize, Serialize};

/// Which parts this process runs. Written as in the configuration: `all`, or
/// the roles separated by commas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Roles {
    pub api: bool,
    pub web: bool,
    pub agent: bool,
    pub relay: bool,
    pub worker: bool,
    pub scheduler: bool,
}

impl Roles {
    pub const NAMES: [&'static str; 6] = ["api", "web", "agent", "relay", "worker", "scheduler"];
    pub const ALL: Self = Self { api: true, web: true, agent: true, relay: true, worker: true, scheduler: true };

    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut roles = Self::default();
        for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "all" => roles = Self::ALL,
                "api" => roles.api = true,
                "web" => roles.web = true,
                "agent" => roles.agent = true,
                "relay" => roles.relay = true,
                "worker" => roles.worker = true,
                "scheduler" => roles.scheduler = true,
                other => {
                    return Err(format!("unknown role {other:?} (use {} or all)", Self::NAMES.join(", ")));
                }
            }
        }
        if roles == Self::default() {
            return Err("no role given".into());
        }
        Ok(roles)
    }

    fn flags(&self) -> [bool; 6] {
        [self.api, self.web, self.agent, self.relay, self.worker, self.scheduler]
    }

    /// Whether this process answers the REST API.
    pub fn serves_api(&self) -> bool {
        self.api || self.web || self.agent
    }

    /// The name written as `source` on events.
    pub fn source(&self) -> &'static str {
        match (self.api, self.relay, self.worker, self.scheduler) {
            (true, true, true, true) => "ontask",
            (true, _, _, _) => "api",
            (_, _, true, _) => "worker",
            (_, _, _, true) => "scheduler",
            _ => "ontask",
        }
    }
}

impl TryFrom<String> for Roles {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == Self::ALL {
            return f.write_str("all");
        }
        let names: Vec<&str> =
            Self::NAMES.iter().zip(self.flags()).filter(|(_, on)| *on).map(|(name, _)| *name).collect();
        f.write_str(&names.join(","))
    }
}

impl From<Roles> for String {
    fn from(roles: Roles) -> Self {
        roles.to_string()
    }
}
