use ontask_domain::{EventMetadata, UserId};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "admin" { Self::Admin } else { Self::User }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    TasksRead,
    TasksWrite,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Self::TasksRead, Self::TasksWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TasksRead => "tasks:read",
            Self::TasksWrite => "tasks:write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Who is acting, as established by authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub role: Role,
    pub scopes: Vec<Scope>,
    /// How the actor signed in: `session` (JWT) or `token` (API token).
    pub via: &'static str,
}

impl Actor {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn require(&self, scope: Scope) -> crate::Result<()> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(crate::AppError::Forbidden(format!("this token lacks the {} scope", scope.as_str())))
        }
    }
}

/// Where a change comes from, recorded in the metadata of the events it writes.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub correlation_id: String,
    pub traceparent: Option<String>,
    /// `user`, `agent`, `system:recurrence`, ...
    pub actor: String,
    pub conversation_id: Option<String>,
    pub causation_id: Option<Uuid>,
}

impl Context {
    pub fn new(correlation_id: impl Into<String>, actor: impl Into<String>) -> Self {
        Self { correlation_id: correlation_id.into(), actor: actor.into(), ..Default::default() }
    }

    /// A context for work not started by a request (workers, CLI).
    pub fn system(actor: &str) -> Self {
        Self::new(Uuid::now_v7().to_string(), actor)
    }

    pub fn metadata(&self) -> EventMetadata {
        EventMetadata {
            correlation_id: self.correlation_id.clone(),
            causation_id: self.causation_id,
            traceparent: self.traceparent.clone(),
            actor: Some(self.actor.clone()),
            conversation_id: self.conversation_id.clone(),
        }
    }
}
