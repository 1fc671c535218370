//! JWTs from an external identity provider (Keycloak, Dex, Better Auth),
//! verified against its JWKS; the first one of a person makes their account.
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Header, Validation};
use ontask_domain::UserId;
use ontask_store::users::{self, UserRow};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Auth, normalise_email, token_refused, unauthorized};
use crate::{Actor, AppError, Result, Role, Scope, SignedIn, now};

const JWKS_TTL: Duration = Duration::from_secs(600);
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

impl Auth {
    pub(super) async fn authenticate_external(&self, bearer: &str, header: Header) -> Result<Actor> {
        if self.config.jwks_url.is_none() {
            return Err(unauthorized("external tokens are not accepted (no JWKS URL configured)"));
        }
        let kid = header.kid.clone();
        let key = match self.find_jwk(kid.as_deref(), false).await? {
            Some(key) => key,
            // The IdP may have rotated its keys since we last looked.
            None => {
                self.find_jwk(kid.as_deref(), true).await?.ok_or_else(|| unauthorized("no matching signing key"))?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        validation.validate_nbf = true;
        match &self.config.jwt_issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.config.jwt_audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        #[derive(Deserialize)]
        struct External {
            sub: String,
            #[serde(default)]
            iss: Option<String>,
            #[serde(default)]
            email: Option<String>,
            #[serde(default)]
            name: Option<String>,
        }
        let data = jsonwebtoken::decode::<External>(bearer, &key, &validation).map_err(token_refused)?;
        let c = data.claims;
        let subject = format!("{}|{}", c.iss.as_deref().unwrap_or(""), c.sub);
        let user = self.provision_external(&subject, c.email.as_deref(), c.name.as_deref()).await?;
        Ok(Actor { user_id: user.id, role: user.role, scopes: Scope::ALL.to_vec(), via: SignedIn::IdentityProvider })
    }

    async fn find_jwk(&self, kid: Option<&str>, refresh: bool) -> Result<Option<DecodingKey>> {
        {
            let cache = self.jwks.read().await;
            let stale = |fetched: &Instant| {
                if refresh { fetched.elapsed() > JWKS_MIN_REFRESH } else { fetched.elapsed() > JWKS_TTL }
            };
            if let Some((set, fetched)) = cache.as_ref()
                && !stale(fetched)
            {
                return Ok(pick_key(set, kid));
            }
        }
        let url = self.config.jwks_url.as_deref().unwrap_or_default();
        let set: JwkSet = async { self.http.get(url).send().await?.error_for_status()?.json().await }.await.map_err(
            |e: reqwest::Error| {
                tracing::warn!(error = %e, "fetching the JWKS failed");
                unauthorized("cannot verify the token right now (JWKS unavailable)")
            },
        )?;
        let key = pick_key(&set, kid);
        *self.jwks.write().await = Some((set, Instant::now()));
        Ok(key)
    }

    async fn provision_external(&self, subject: &str, email: Option<&str>, name: Option<&str>) -> Result<UserRow> {
        let mut conn = self.db.read().await?;
        if let Some(user) = users::by_external_subject(&mut conn, subject).await? {
            return Ok(user);
        }
        drop(conn);
        let email = match email.map(normalise_email) {
            Some(Ok(e)) => e,
            _ => format!("{}@external.invalid", hex::encode(&Sha256::digest(subject.as_bytes())[..8])),
        };
        let user = UserRow {
            id: UserId::new(),
            email,
            name: name.unwrap_or("").to_owned(),
            password_hash: None,
            role: Role::User,
            external_subject: Some(subject.to_owned()),
            created_at: now(),
            session_generation: 0,
            timezone: None,
        };
        let mut tx = self.db.begin().await?;
        match users::insert(&mut tx, &user).await {
            Ok(()) => {
                self.create_inbox(&mut tx, user.id).await?;
                tx.commit().await?;
                Ok(user)
            }
            // Raced with another request for the same subject, or the e-mail
            // belongs to a local account: use whatever owns the subject now.
            Err(ontask_store::StoreError::Conflict(_)) => {
                drop(tx);
                let mut conn = self.db.read().await?;
                users::by_external_subject(&mut conn, subject)
                    .await?
                    .ok_or_else(|| AppError::Conflict("the token's e-mail belongs to another account".into()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn pick_key(set: &JwkSet, kid: Option<&str>) -> Option<DecodingKey> {
    let jwk = match kid {
        Some(kid) => set.find(kid)?,
        None if set.keys.len() == 1 => &set.keys[0],
        None => return None,
    };
    DecodingKey::from_jwk(jwk).ok()
}
