//! An account's lifecycle beyond signing in: a forgotten password reset by
//! e-mail, and deleting the account. (Changing a known password is
//! [`crate::auth::Auth::change_password`].)
//!
//! A reset request answers the same whether or not the e-mail names an account,
//! so the endpoint tells nobody who has one. The token in the e-mail is random,
//! kept only as its SHA-256 hash, valid for [`RESET_TTL`], and used at most
//! once; using it sets the password and ends every session of the account.
use chrono::Duration;
use ontask_domain::ProjectRole;
use ontask_store::email::{self, NewEmail};
use ontask_store::{projects, users};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::auth::{Session, hash_token, normalise_email};
use crate::projects::TasksOnDelete;
use crate::{Actor, App, AppError, Context, Result, now};

/// What an account keeps as its name once deleted, where its tasks and
/// comments in other people's projects show their author.
pub const DELETED_ACCOUNT_NAME: &str = "Deleted account";

/// Deleting an account: the person confirms with their password (an account
/// of an identity provider, which has none, with its e-mail).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteAccountInput {
    pub password: Option<String>,
    /// Only for an account without a password.
    pub email: Option<String>,
}

/// What deleting an account did with the person's projects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountDeleted {
    /// Projects only they were in (the Inbox among them), deleted with
    /// their tasks.
    pub projects_deleted: usize,
    /// Projects they owned and shared, now owned by another member.
    pub projects_handed_over: usize,
    /// Other people's projects they were a member of and left.
    pub projects_left: usize,
}

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
        if self.app.outbound.smtp.relay().is_none() {
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
        // The token goes in the link's fragment, which browsers never send
        // to a server: no access log or proxy on the way sees it.
        let body = format!(
            "Someone (we hope you) asked to reset the password of your ontask account {email}.\n\n\
             To choose a new password, open\n{base}/reset-password#{token}\n\n\
             The link works once, for {} minutes. If you did not ask, ignore this e-mail: \
             your password stays as it is.\n\n\
             (From a script: POST {base}/api/v1/auth/password-reset/confirm with \
             {{\"token\": \"{token}\", \"new_password\": \"...\"}}.)\n",
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
        self.app.auth.forget_standing(user_id);
        self.app.auth.session_for(&user)
    }

    /// Deletes the signed-in person's account, all in one transaction, each
    /// change with its event like any other:
    /// - a project only they are in (their Inbox too) is deleted with its tasks;
    /// - a project they own and share goes to another member (the editor who
    ///   joined first, else the first viewer), and they leave it;
    /// - they leave the projects of others (their tasks there are unassigned);
    /// - their tokens, sessions, webhooks, devices, feed, conversations,
    ///   notifications and imports are deleted, and the account keeps no
    ///   e-mail, name or password ([`users::erase`]). Tasks and comments
    ///   they wrote in projects others keep stay there, by "Deleted account".
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn delete(&self, ctx: &Context, actor: &Actor, input: DeleteAccountInput) -> Result<AccountDeleted> {
        self.app.auth.confirm_identity(actor, input.password.as_deref(), input.email.as_deref()).await?;
        let me = actor.user_id;
        let service = self.app.projects();
        let mut done = AccountDeleted::default();
        let mut tx = self.app.db.begin().await?;
        let mine = projects::of_member(tx.conn(), me, false).await?;
        let archived = projects::of_member(tx.conn(), me, true).await?;
        for membership in mine.into_iter().chain(archived) {
            let project = membership.project;
            if membership.role != ProjectRole::Owner {
                service.remove_member_in(&mut tx, ctx, actor, project.id, me, membership.role).await?;
                done.projects_left += 1;
                continue;
            }
            let members = projects::members(tx.conn(), project.id).await?;
            let others = members.iter().map(|m| &m.member).filter(|m| m.user_id != me);
            let successor = others.clone().find(|m| m.role == ProjectRole::Editor).or_else(|| others.clone().next());
            // An Inbox is nobody else's, even when someone was let in.
            match successor.filter(|_| !project.inbox) {
                None => {
                    service.delete_in(&mut tx, ctx, actor, project, TasksOnDelete::Delete).await?;
                    done.projects_deleted += 1;
                }
                Some(next) => {
                    let id = project.id;
                    service.transfer_in(&mut tx, ctx, actor, project, next.user_id, next.role).await?;
                    service.remove_member_in(&mut tx, ctx, actor, id, me, ProjectRole::Editor).await?;
                    done.projects_handed_over += 1;
                }
            }
        }
        if !users::erase(&mut tx, me, DELETED_ACCOUNT_NAME).await? {
            return Err(AppError::NotFound);
        }
        tx.commit().await?;
        self.app.auth.forget_standing(me);
        Ok(done)
    }
}
