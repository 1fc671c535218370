//! The states of webhook endpoints and of their deliveries.
use serde::{Deserialize, Serialize};

/// Whether an endpoint receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EndpointStatus {
    Active,
    /// Disabled after too many failed deliveries, until its owner enables it again.
    Disabled,
}

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Due now or at its next attempt.
    Pending,
    Delivered,
    /// Given up on: out of attempts, or its endpoint was disabled.
    Failed,
}

macro_rules! as_text {
    ($name:ident { $($variant:ident => $text:literal),* }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

as_text!(EndpointStatus { Active => "active", Disabled => "disabled" });
as_text!(DeliveryStatus { Pending => "pending", Delivered => "delivered", Failed => "failed" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written_and_as_serde_writes_them() {
        for s in [EndpointStatus::Active, EndpointStatus::Disabled] {
            assert_eq!(EndpointStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed] {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(DeliveryStatus::parse("done"), None);
    }
}
