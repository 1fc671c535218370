use ontask_domain::{EventActor, EventMetadata, UserId};
pub use ontask_domain::{Role, Scope};
use uuid::Uuid;

/// Who is acting, as established by authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub role: Role,
    pub scopes: Vec<Scope>,
    pub via: SignedIn,
}

/// How an actor proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedIn {
    /// A session token this server issued at sign-in.
    Session,
    /// One of the person's API tokens.
    ApiToken,
    /// A token of the configured identity provider.
    IdentityProvider,
}

impl Actor {
    /// How events record the changes this actor makes.
    pub fn event_actor(&self) -> EventActor {
        match self.via {
            SignedIn::ApiToken => EventActor::ApiToken,
            SignedIn::Session | SignedIn::IdentityProvider => EventActor::User,
        }
    }

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
#[derive(Debug, Clone)]
pub struct Context {
    pub correlation_id: String,
    pub traceparent: Option<String>,
    pub actor: EventActor,
    pub conversation_id: Option<String>,
    pub causation_id: Option<Uuid>,
}

impl Context {
    pub fn new(correlation_id: impl Into<String>, actor: EventActor) -> Self {
        Self {
            correlation_id: correlation_id.into(),
            traceparent: None,
            actor,
            conversation_id: None,
            causation_id: None,
        }
    }

    /// A context for work not started by a request (workers, CLI).
    pub fn system(actor: EventActor) -> Self {
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
