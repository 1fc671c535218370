//! An account's lifecycle beyond signing in: a forgotten password reset by
//! e-mail. (Changing a known password is [`crate::auth::Auth::change_password`].)
//!
//! A reset request answers the same whether or not the e-mail names an account,
//! so the endpoint tells nobody who has one. The token in the e-mail is random,
//! kept only as its SHA-256 hash, valid for [`RESET_TTL`], and used at most
//! once; using it sets the password and ends every session of the account.
use chrono::Duration;
use ontask_store::email::{self, NewEmail};
use ontask_store::users;
use rand::RngCore;

use crate::auth::{Session, hash_token, normalise_email};
use crate::{App, AppError, Result, now};

/// How long a reset token in an e-mail works.
pub const RESET_TTL: Duration = Duration::minutes(30);
const RESET_PREFIX: &str = "otr_";

pub struct AccountService<'a> {
    app: &'a App,
}

impl<'a> AccountService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Sends a reset token to `email` if it names an account with a password
    /// and e-mail is configured; otherwise does nothing. Either way the caller
    /// learns nothing (the same `Ok(())`), except a malformed address.
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let email = normalise_email(email)?;
        if self.app.outbound.smtp.is_none() {
            tracing::warn!("a password reset was asked for, but e-mail (smtp.*) is not configured; nothing was sent");
            return Ok(());
        }
        let mut conn = self.app.db.read().await?;
        let user = users::by_email(&mut conn, &email).await?;
        drop(conn);
        // Accounts of an identity provider have no password to reset.
        let Some(user) = user.filter(|u| u.password_hash.is_some()) else { return Ok(()) };
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let token = format!("{RESET_PREFIX}{}", hex::encode(secret));
        let at = now();
        let base = self.app.outbound.public_url.as_deref().unwrap_or("").trim_end_matches('/');
        let body = format!(
            "Someone (we hope you) asked to reset the password of your ontask account {email}.\n\n\
             Your reset token: {token}\n\n\
             To choose a new password, send it with the new one to\n\
             POST {base}/api/v1/auth/password-reset/confirm\n\
             as {{\"token\": \"...\", \"new_password\": \"...\"}}.\n\n\
             The token works once, for {} minutes. If you did not ask, ignore this e-mail: \
             your password stays as it is.\n",
            RESET_TTL.num_minutes()
        );
        let mail = NewEmail {
            // The outbox's key: one e-mail per request.
            event_id: uuid::Uuid::now_v7(),
            user_id: user.id,
            recipient: user.email.clone(),
            subject: "Reset your ontask password".to_owned(),
            body,
        };
        let mut tx = self.app.db.begin().await?;
        users::add_password_reset(&mut tx, &hash_token(&token), user.id, at, at + RESET_TTL).await?;
        email::enqueue(&mut tx, &mail, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a new password with the token from a reset e-mail; every session
    /// of the account ends, and the answer is a new one.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_password_reset(&self, token: &str, new_password: &str) -> Result<Session> {
        let invalid = || AppError::validation("token", "is not a valid reset token, or it expired or was used");
        if !token.starts_with(RESET_PREFIX) {
            return Err(invalid());
        }
        // Hashed before the transaction: the token is used up only together with the new password.
        let hash = self.app.auth.hash_new_password("new_password", new_password).await?;
        let mut tx = self.app.db.begin().await?;
        let Some(user_id) = users::take_password_reset(&mut tx, &hash_token(token), now()).await? else {
            return Err(invalid());
        };
        users::set_password(&mut tx, user_id, &hash).await?.ok_or_else(invalid)?;
        let user = users::by_id(tx.conn(), user_id).await?.ok_or_else(invalid)?;
        tx.commit().await?;
        self.app.auth.session_for(&user)
    }
}
