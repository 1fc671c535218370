//! Accounts and credentials: argon2id passwords, our own HS256 session JWTs,
//! personal API tokens (stored as SHA-256 hashes), and JWTs from an external
//! identity provider verified against its JWKS (Keycloak, Dex, Better Auth).
//!
//! The session secret can be rotated: new sessions are signed with the current
//! secret only, and a session signed with a previous one
//! ([`AuthSettings::previous_jwt_secrets`]) keeps working for a grace period
//! counted from when it was issued, and never past its own expiry, so people
//! are not all signed out at the moment of the switch ([`crate::session_keys`]).
mod api_tokens;
mod external;
mod passwords;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use ontask_domain::UserId;
use ontask_domain::settings::{Secret, units};
use ontask_store::users::UserRow;
use ontask_store::{Db, users};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use self::api_tokens::TOKEN_PREFIX;
pub use self::api_tokens::{TokenView, hash_token};
use self::passwords::{Hashing, check_password};
use crate::session_keys::{self, Claims, SessionKeys};
use crate::{Actor, AppError, Result, Role, Scope, SignedIn, now};
use ontask_store::Memo;

/// How sessions and tokens are signed and checked (`[auth]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// HS256 secret for session tokens (32+ bytes). Generated into
    /// `data_dir/jwt_secret` on first start when unset; [`Auth::new`] takes
    /// the one in use.
    pub jwt_secret: Option<Secret>,
    /// Secrets `jwt_secret` replaced (each 32+ bytes), newest first. Nothing is
    /// signed with them; sessions they signed are accepted for
    /// `previous_secret_grace_hours` after they were issued, and secrets sealed
    /// under them (see [`crate::sealed`]) stay readable. In the environment a
    /// list, quoted (`ONTASK_AUTH__PREVIOUS_JWT_SECRETS='["old-1", "old-2"]'`),
    /// or one secret as it is.
    #[serde(deserialize_with = "Secret::one_or_many")]
    pub previous_jwt_secrets: Vec<Secret>,
    /// How long after it was issued (`iat`) a session signed with a previous
    /// secret is still accepted (never past its own expiry); zero ends them
    /// all at once.
    #[serde(rename = "previous_secret_grace_hours", with = "units::hours")]
    pub previous_secret_grace: Duration,
    /// When set, RS256/ES256/EdDSA tokens of an external identity provider
    /// are verified against this JWKS.
    pub jwks_url: Option<String>,
    /// Required `iss` of external tokens, when set.
    pub jwt_issuer: Option<String>,
    /// Required `aud` of external tokens, when set.
    pub jwt_audience: Option<String>,
    /// Send the session cookie only over HTTPS.
    pub cookie_secure: bool,
    #[serde(rename = "session_ttl_hours", with = "units::hours")]
    pub session_ttl: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            previous_jwt_secrets: Vec::new(),
            previous_secret_grace: Duration::from_secs(24 * 3600),
            jwks_url: None,
            jwt_issuer: None,
            jwt_audience: None,
            cookie_secure: false,
            session_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// An account as shown to its owner.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// The IANA zone chosen in the profile; `null` follows the device.
    #[cfg_attr(feature = "openapi", schema(example = "Europe/Berlin"))]
    pub timezone: Option<String>,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            created_at: u.created_at,
            timezone: u.timezone.clone(),
        }
    }
}

/// Changes to the profile (JSON merge patch): absent fields stay, a `null`
/// time zone follows the device again.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileInput {
    /// Up to 100 characters; empty shows the e-mail instead.
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub name: Option<String>,
    /// An IANA zone such as `Europe/Berlin`, or `null`.
    #[serde(default, deserialize_with = "crate::input::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<TimeZoneName>))]
    pub timezone: Option<Option<String>>,
}

/// The schema of a time zone name: every IANA name the server knows (the
/// chrono-tz database it parses them with), so a client can offer a list and
/// the document says exactly which names are accepted.
#[cfg(feature = "openapi")]
pub struct TimeZoneName;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("An IANA time zone name"))
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
            .examples(["Europe/Berlin"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TimeZoneName {
    fn name() -> std::borrow::Cow<'static, str> {
        "TimeZone".into()
    }
}

/// A profile name: trimmed, at most 100 characters (reported on `field`).
fn check_name(errors: &mut ontask_domain::ValidationErrors, raw: &str) -> String {
    let name = raw.trim().to_owned();
    if name.chars().count() > 100 {
        errors.push("name", "must be at most 100 characters");
    }
    name
}

/// A signed-in session: the user and their bearer token.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub user: UserView,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// How long the session check trusts what it read of an account.
const STANDING_MAX_AGE: Duration = Duration::from_secs(1);
/// Accounts whose standing is remembered at once (about 48 bytes each).
const STANDING_ENTRIES: usize = 100_000;

/// What a session check needs of an account.
#[derive(Debug, Clone, Copy)]
struct Standing {
    role: Role,
    generation: i64,
}

pub struct Auth {
    db: Db,
    config: AuthSettings,
    /// The secret in use and the ones it replaced, newest first (see
    /// [`Auth::server_secrets`]).
    server_secrets: (Vec<u8>, Vec<Vec<u8>>),
    keys: SessionKeys,
    http: reqwest::Client,
    jwks: RwLock<Option<(JwkSet, Instant)>>,
    hashing: Hashing,
    /// What the session check last read of an account ([`Auth::standing`]).
    standing: Memo<UserId, Standing>,
    /// The role name written as `source` on the events of new accounts
    /// (their Inbox); set by `App::new`.
    pub(crate) source: std::sync::Arc<str>,
}

pub fn normalise_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid { Ok(email) } else { Err(AppError::validation("email", "is not a valid e-mail address")) }
}

/// Why a JWT was refused, in words for the client.
pub(crate) fn token_refused(e: jsonwebtoken::errors::Error) -> AppError {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => unauthorized("the token has expired"),
        ErrorKind::ImmatureSignature => unauthorized("the token is not valid yet"),
        ErrorKind::InvalidSignature => unauthorized("the token signature is invalid"),
        _ => unauthorized("the token is not valid"),
    }
}

/// Moves a validation error into `errors`; other errors cannot happen here.
fn collect<T>(errors: &mut ontask_domain::ValidationErrors, result: Result<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(AppError::Validation(v)) => {
            for f in v.fields() {
                errors.push(f.field.clone(), f.message.clone());
            }
            None
        }
        Err(other) => {
            errors.push("body", other.to_string());
            None
        }
    }
}

pub(crate) fn unauthorized(msg: &str) -> AppError {
    AppError::Unauthorized(msg.to_owned())
}

impl Auth {
    /// `jwt_secret` is the one in use: `config.jwt_secret`, or the one
    /// generated for it (at least 32 bytes).
    pub fn new(db: Db, config: AuthSettings, jwt_secret: Vec<u8>) -> Self {
        let previous: Vec<Vec<u8>> =
            config.previous_jwt_secrets.iter().map(|s| s.expose().as_bytes().to_vec()).collect();
        let keys = SessionKeys::new(&jwt_secret, &previous, config.previous_secret_grace);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
        Self {
            db,
            config,
            server_secrets: (jwt_secret, previous),
            keys,
            http,
            jwks: RwLock::new(None),
            hashing: Hashing::for_this_machine(),
            standing: Memo::new(STANDING_ENTRIES, Some(STANDING_MAX_AGE)),
            source: "api".into(),
        }
    }

    /// Every account starts with its Inbox, written with the account.
    async fn create_inbox(&self, tx: &mut ontask_store::WriteTx, user: UserId) -> Result<()> {
        let ctx = crate::Context::new(uuid::Uuid::now_v7().to_string(), ontask_domain::EventActor::User);
        crate::projects::create_inbox(tx, &self.source, &ctx, user).await?;
        Ok(())
    }

    pub fn session_ttl(&self) -> Duration {
        self.config.session_ttl
    }

    /// The server secret, from which other keys are derived (see
    /// [`crate::sealed`]), and the secrets it replaced, newest first.
    pub(crate) fn server_secrets(&self) -> (&[u8], &[Vec<u8>]) {
        (&self.server_secrets.0, &self.server_secrets.1)
    }

    /// Creates an account. The first account becomes an admin.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, email: &str, password: &str, name: Option<&str>) -> Result<Session> {
        // Check every field before answering, so a sign-up form can show all
        // of its problems at once.
        let mut errors = ontask_domain::ValidationErrors::new();
        let email = collect(&mut errors, normalise_email(email));
        collect(&mut errors, check_password("password", password));
        let name = check_name(&mut errors, name.unwrap_or(""));
        errors.into_result()?;
        let email = email.unwrap_or_default();
        let hash = self.hashing.hash(password.to_owned()).await?;
        let mut tx = self.db.begin().await?;
        let first = users::count(tx.conn()).await? == 0;
        let user = UserRow {
            id: UserId::new(),
            email,
            name,
            password_hash: Some(hash),
            role: if first { Role::Admin } else { Role::User },
            external_subject: None,
            created_at: now(),
            session_generation: 0,
            timezone: None,
        };
        users::insert(&mut tx, &user).await.map_err(|e| match e {
            ontask_store::StoreError::Conflict(_) => {
                AppError::Conflict("an account with this e-mail already exists".into())
            }
            other => other.into(),
        })?;
        self.create_inbox(&mut tx, user.id).await?;
        tx.commit().await?;
        self.session_for(&user)
    }

    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str) -> Result<Session> {
        let invalid = || unauthorized("invalid e-mail or password");
        let email = normalise_email(email).map_err(|_| invalid())?;
        let mut conn = self.db.read().await?;
        let user = users::by_email(&mut conn, &email).await?;
        drop(conn);
        let Some(user) = user else {
            // Spend the same time as a real check, so timing does not reveal
            // accounts (and count in the same bound: a busy answer too).
            self.hashing.hash(password.to_owned()).await?;
            return Err(invalid());
        };
        let Some(hash) = user.password_hash.clone() else { return Err(invalid()) };
        if !self.hashing.verify(password.to_owned(), hash).await? {
            return Err(invalid());
        }
        self.session_for(&user)
    }

    /// Issues a session token for an existing account (`ontask token`).
    pub async fn token_for_email(&self, email: &str) -> Result<Session> {
        let email = normalise_email(email)?;
        let mut conn = self.db.read().await?;
        let user = users::by_email(&mut conn, &email).await?.ok_or(AppError::NotFound)?;
        self.session_for(&user)
    }

    /// The account with this e-mail acting as it would from a session: what
    /// the command line (`ontask export`, `ontask import`) acts as.
    pub async fn actor_for_email(&self, email: &str) -> Result<Actor> {
        let email = normalise_email(email)?;
        let mut conn = self.db.read().await?;
        let user = users::by_email(&mut conn, &email).await?.ok_or(AppError::NotFound)?;
        Ok(Actor { user_id: user.id, role: user.role, scopes: Scope::ALL.to_vec(), via: SignedIn::Session })
    }

    pub(crate) fn session_for(&self, user: &UserRow) -> Result<Session> {
        let issued = now();
        let ttl = chrono::Duration::from_std(self.config.session_ttl).map_err(AppError::internal)?;
        let expires_at = issued + ttl;
        let claims = Claims {
            sub: user.id.to_string(),
            email: Some(user.email.clone()),
            role: Some(user.role.as_str().to_owned()),
            iss: session_keys::ISSUER.into(),
            iat: issued.timestamp(),
            exp: expires_at.timestamp(),
            jti: Some(uuid::Uuid::now_v7().to_string()),
            sgen: user.session_generation,
        };
        let token = self.keys.sign(&claims)?;
        Ok(Session { user: UserView::from(user), token, expires_at })
    }

    /// Changes the person's name and time zone.
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn update_profile(&self, actor: &Actor, input: ProfileInput) -> Result<UserView> {
        actor.require(Scope::TasksWrite)?;
        let mut conn = self.db.read().await?;
        let mut user = users::by_id(&mut conn, actor.user_id)
            .await?
            .ok_or_else(|| unauthorized("the account no longer exists"))?;
        drop(conn);
        let mut errors = ontask_domain::ValidationErrors::new();
        if let Some(name) = input.name {
            user.name = check_name(&mut errors, &name);
        }
        if let Some(zone) = input.timezone {
            user.timezone = match zone.as_deref().map(str::trim) {
                None => None,
                Some(zone) => match zone.parse::<chrono_tz::Tz>() {
                    Ok(tz) => Some(tz.name().to_owned()),
                    Err(_) => {
                        errors.push(
                            "timezone",
                            format!("unknown time zone {zone:?} (use an IANA name such as Europe/Berlin)"),
                        );
                        None
                    }
                },
            };
        }
        errors.into_result()?;
        let mut tx = self.db.begin().await?;
        if !users::set_profile(&mut tx, user.id, &user.name, user.timezone.as_deref()).await? {
            return Err(unauthorized("the account no longer exists"));
        }
        tx.commit().await?;
        Ok(UserView::from(&user))
    }

    /// The zone to read times in for the person: their profile's, else UTC.
    pub async fn timezone_of(&self, actor: &Actor) -> Result<chrono_tz::Tz> {
        let me = self.me(actor).await?;
        Ok(me.timezone.and_then(|zone| zone.parse().ok()).unwrap_or(chrono_tz::Tz::UTC))
    }

    pub async fn me(&self, actor: &Actor) -> Result<UserView> {
        let mut conn = self.db.read().await?;
        let user = users::by_id(&mut conn, actor.user_id)
            .await?
            .ok_or_else(|| unauthorized("the account no longer exists"))?;
        Ok(UserView::from(&user))
    }

    /// Establishes who presents `bearer`: an API token, one of our JWTs, or an
    /// external IdP's JWT.
    pub async fn authenticate(&self, bearer: &str) -> Result<Actor> {
        if bearer.starts_with(TOKEN_PREFIX) {
            return self.authenticate_api_token(bearer).await;
        }
        let header = jsonwebtoken::decode_header(bearer).map_err(|_| unauthorized("malformed token"))?;
        match header.alg {
            Algorithm::HS256 => self.authenticate_session(bearer).await,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
            | Algorithm::PS256 => self.authenticate_external(bearer, header).await,
            _ => Err(unauthorized("unsupported token algorithm")),
        }
    }

    async fn authenticate_session(&self, bearer: &str) -> Result<Actor> {
        let claims = self.keys.verify(bearer, now())?;
        let user_id = UserId::parse(&claims.sub).map_err(|_| unauthorized("the token is not valid"))?;
        let standing = self.standing(user_id).await?;
        if claims.sgen != standing.generation {
            return Err(unauthorized("the session ended when the password was changed; sign in again"));
        }
        Ok(Actor { user_id, role: standing.role, scopes: Scope::ALL.to_vec(), via: SignedIn::Session })
    }

    /// Whether the account still exists, its role and session generation. A
    /// well-signed token may still name an account this database does not
    /// hold (the database was reset but the secret kept): it is refused here
    /// rather than fail later on a foreign key; the stored role also wins over
    /// the one in the token, which may be stale. Remembered for a moment: a
    /// signed-in person's every request would otherwise read their account.
    /// A change made here forgets it at once ([`Auth::forget_standing`]);
    /// one made on another replica counts there within `STANDING_MAX_AGE`.
    async fn standing(&self, user_id: UserId) -> Result<Standing> {
        if let Some(known) = self.standing.get(&user_id) {
            return Ok(known);
        }
        let mut conn = self.db.read().await?;
        let user =
            users::by_id(&mut conn, user_id).await?.ok_or_else(|| unauthorized("the account no longer exists"))?;
        let standing = Standing { role: user.role, generation: user.session_generation };
        self.standing.remember(user_id, standing);
        Ok(standing)
    }

    /// Called once a change to an account's sessions, role or existence has
    /// committed, so the next session check reads it.
    pub(crate) fn forget_standing(&self, user_id: UserId) {
        self.standing.forget(&user_id);
    }

    // --- the account's password ------------------------------------------------

    /// Changes the password of a signed-in person, who proves it with the
    /// current one. Every session issued before ends (API tokens stay: they
    /// are credentials of their own, revoked one by one); the answer is a new
    /// session for the caller, so the device that made the change stays signed in.
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn change_password(&self, actor: &Actor, current: &str, new: &str) -> Result<Session> {
        if actor.via != SignedIn::Session {
            return Err(AppError::Forbidden("the password can only be changed from a signed-in session".into()));
        }
        check_password("new_password", new)?;
        let mut conn = self.db.read().await?;
        let user = users::by_id(&mut conn, actor.user_id)
            .await?
            .ok_or_else(|| unauthorized("the account no longer exists"))?;
        drop(conn);
        let Some(hash) = user.password_hash.clone() else {
            return Err(AppError::Conflict(
                "this account signs in through an identity provider and has no password".into(),
            ));
        };
        if !self.hashing.verify(current.to_owned(), hash).await? {
            return Err(AppError::validation("current_password", "is not the account's password"));
        }
        self.set_password(user, new).await
    }

    /// Checks that the person at a signed-in session is who they say before
    /// something that cannot be undone: by the account's password, or, for an
    /// account of an identity provider (which has none), by its e-mail typed
    /// out. The account as stored.
    pub(crate) async fn confirm_identity(
        &self,
        actor: &Actor,
        password: Option<&str>,
        email: Option<&str>,
    ) -> Result<UserRow> {
        if actor.via != SignedIn::Session {
            return Err(AppError::Forbidden("this can only be done from a signed-in session".into()));
        }
        let mut conn = self.db.read().await?;
        let user = users::by_id(&mut conn, actor.user_id)
            .await?
            .ok_or_else(|| unauthorized("the account no longer exists"))?;
        drop(conn);
        match (&user.password_hash, password) {
            (Some(hash), Some(password)) => {
                if !self.hashing.verify(password.to_owned(), hash.clone()).await? {
                    return Err(AppError::validation("password", "is not the account's password"));
                }
            }
            (Some(_), None) => return Err(AppError::validation("password", "is required")),
            (None, _) => {
                if email.map(normalise_email).transpose()?.as_deref() != Some(user.email.as_str()) {
                    return Err(AppError::validation("email", "must be the account's e-mail (it has no password)"));
                }
            }
        }
        Ok(user)
    }

    /// An argon2id hash of `password`, once it passes the rules (reported on `field`).
    pub(crate) async fn hash_new_password(&self, field: &str, password: &str) -> Result<String> {
        check_password(field, password)?;
        self.hashing.hash(password.to_owned()).await
    }

    /// Stores a new password hash, moves the session generation on, and
    /// issues a session of the new generation.
    async fn set_password(&self, mut user: UserRow, new: &str) -> Result<Session> {
        let hash = self.hash_new_password("new_password", new).await?;
        let mut tx = self.db.begin().await?;
        let generation = users::set_password(&mut tx, user.id, &hash)
            .await?
            .ok_or_else(|| unauthorized("the account no longer exists"))?;
        tx.commit().await?;
        self.forget_standing(user.id);
        user.password_hash = Some(hash);
        user.session_generation = generation;
        self.session_for(&user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalise_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@.com"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
