//! Personal API tokens: `ot_` and 32 random bytes, stored as SHA-256 hashes,
//! each with its own scopes and expiry.
use chrono::{DateTime, Utc};
use ontask_domain::TokenId;
use ontask_store::tokens::{self, TokenRow};
use ontask_store::users;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Auth, unauthorized};
use crate::{Actor, AppError, Result, Scope, SignedIn, now};

pub(super) const TOKEN_PREFIX: &str = "ot_";
/// Writing `last_used_at` on every request would make reads write; once a
/// minute is precise enough to answer "is this token still in use?".
const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// An API token as listed (without its secret).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: TokenId,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The secret, present only in the answer that created the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<&TokenRow> for TokenView {
    fn from(t: &TokenRow) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            scopes: t.scopes.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            token: None,
        }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Auth {
    pub(super) async fn authenticate_api_token(&self, bearer: &str) -> Result<Actor> {
        let hash = hash_token(bearer);
        let mut conn = self.db.read().await?;
        let token = tokens::by_hash(&mut conn, &hash).await?.ok_or_else(|| unauthorized("unknown API token"))?;
        let user = users::by_id(&mut conn, token.user_id).await?.ok_or_else(|| unauthorized("unknown API token"))?;
        drop(conn);
        let now = now();
        if token.expires_at.is_some_and(|exp| exp <= now) {
            return Err(unauthorized("the API token has expired"));
        }
        if token.last_used_at.is_none_or(|t| now - t > TOUCH_INTERVAL) {
            let mut tx = self.db.begin().await?;
            tokens::touch(&mut tx, token.id, now).await?;
            tx.commit().await?;
        }
        Ok(Actor { user_id: token.user_id, role: user.role, scopes: token.scopes.clone(), via: SignedIn::ApiToken })
    }

    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        scopes: &[String],
        expires_in_days: Option<i64>,
    ) -> Result<TokenView> {
        if actor.via != SignedIn::Session {
            return Err(AppError::Forbidden("API tokens can only be managed from a signed-in session".into()));
        }
        // The length is the one sent, blanks included, as the schema counts it.
        let sent = name.chars().count();
        let name = name.trim();
        if name.is_empty() || sent > 100 {
            return Err(AppError::validation("name", "must be 1 to 100 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::validation("name", "must be one line, without control characters"));
        }
        let mut parsed = Vec::new();
        for s in scopes {
            match Scope::parse(s) {
                Some(scope) if !parsed.contains(&scope) => parsed.push(scope),
                Some(_) => {}
                None => {
                    return Err(AppError::validation(
                        "scopes",
                        format!("unknown scope {s:?} (use tasks:read, tasks:write)"),
                    ));
                }
            }
        }
        if parsed.is_empty() {
            return Err(AppError::validation("scopes", "at least one scope is required"));
        }
        let expires_at = match expires_in_days {
            None => None,
            Some(d) if (1..=3650).contains(&d) => Some(now() + chrono::Duration::days(d)),
            Some(_) => return Err(AppError::validation("expires_in_days", "must be between 1 and 3650")),
        };
        let mut secret = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut secret);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let row = TokenRow {
            id: TokenId::new(),
            user_id: actor.user_id,
            name: name.to_owned(),
            token_hash: hash_token(&token),
            scopes: parsed,
            created_at: now(),
            expires_at,
            last_used_at: None,
        };
        let mut tx = self.db.begin().await?;
        tokens::insert(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(TokenView { token: Some(token), ..TokenView::from(&row) })
    }

    pub async fn list_tokens(&self, actor: &Actor) -> Result<Vec<TokenView>> {
        let mut conn = self.db.read().await?;
        Ok(tokens::for_user(&mut conn, actor.user_id).await?.iter().map(TokenView::from).collect())
    }

    pub async fn delete_token(&self, actor: &Actor, id: &str) -> Result<()> {
        // An id that is not one names no token of the person's.
        let id = TokenId::parse(id).map_err(|_| AppError::NotFound)?;
        if actor.via != SignedIn::Session {
            return Err(AppError::Forbidden("API tokens can only be managed from a signed-in session".into()));
        }
        let mut tx = self.db.begin().await?;
        let deleted = tokens::delete(&mut tx, actor.user_id, id).await?;
        tx.commit().await?;
        if deleted { Ok(()) } else { Err(AppError::NotFound) }
    }
}
