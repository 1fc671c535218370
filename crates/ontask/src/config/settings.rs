//! What the configuration resolves beyond its sections: the database URL, the
//! log filter, the sidecar's address, and the settings of outbound
//! notifications, which join three sections and what was found at start.
use super::Config;

impl Config {
    /// The settings of webhooks, e-mail and push, for the application services;
    /// `vapid` is the push key in use (see [`ontask_app::push::PushSettings::vapid_private_key`]).
    pub fn outbound(&self, vapid: Option<ontask_app::push::VapidKey>) -> ontask_app::webhooks::OutboundSettings {
        ontask_app::webhooks::OutboundSettings {
            webhooks: self.webhooks.clone(),
            smtp: self.smtp.clone(),
            push: self.push.clone(),
            vapid: vapid.map(|key| ontask_app::push::Vapid::new(key, &self.push, self.public_url.as_deref())),
            public_url: self.public_url.clone(),
        }
    }

    /// Base URL of the Dapr sidecar's HTTP API.
    pub fn dapr_endpoint(&self) -> String {
        match &self.dapr.http_endpoint {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://127.0.0.1:{}", self.dapr.http_port),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("ontask.db").display()),
        }
    }

    pub fn log_filter(&self) -> String {
        self.log.clone().unwrap_or_else(|| "info,sqlx=warn".into())
    }
}
