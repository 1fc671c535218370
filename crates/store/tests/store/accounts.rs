//! Users and API tokens.
use chrono::Duration;
use ontask_domain::{Role, Scope, TokenId, UserId};
use ontask_store::tokens::{self, TokenRow};
use ontask_store::users::{self, UserRow};
use ontask_store::{Db, StoreError};

use crate::{now, on_both_backends, user};

fn row(email: &str, subject: Option<&str>) -> UserRow {
    UserRow {
        id: UserId::new(),
        email: email.into(),
        name: "Ada".into(),
        password_hash: Some("$argon2id$...".into()),
        role: Role::User,
        external_subject: subject.map(Into::into),
        created_at: now(),
        session_generation: 0,
        timezone: None,
    }
}

on_both_backends! {
    async fn users_are_found_by_email_id_and_subject_and_emails_are_unique(db: Db) {
        let ada = row("ada@example.com", Some("https://idp|ada"));
        let mut tx = db.begin().await.unwrap();
        users::insert(&mut tx, &ada).await.unwrap();
        let err = users::insert(&mut tx, &row("ada@example.com", None)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        users::insert(&mut tx, &ada).await.unwrap();
        assert!(users::set_role(&mut tx, ada.id, Role::Admin).await.unwrap());
        tx.commit().await.unwrap();

        let mut conn = db.read().await.unwrap();
        let found = users::by_email(&mut conn, "ada@example.com").await.unwrap().unwrap();
        assert_eq!((found.id, found.role), (ada.id, Role::Admin));
        assert_eq!(users::by_id(&mut conn, ada.id).await.unwrap().unwrap().email, "ada@example.com");
        assert_eq!(users::by_external_subject(&mut conn, "https://idp|ada").await.unwrap().unwrap().id, ada.id);
        assert!(users::by_email(&mut conn, "nobody@example.com").await.unwrap().is_none());
        assert_eq!(users::count(&mut conn).await.unwrap(), 1);
    }

    async fn tokens_by_hash_list_touch_and_delete(db: Db) {
        let owner = user(&db).await;
        let id = TokenId::new();
        let token = TokenRow {
            id,
            user_id: owner,
            name: "laptop".into(),
            token_hash: "hash-1".into(),
            scopes: vec![Scope::TasksRead, Scope::TasksWrite],
            created_at: now(),
            expires_at: Some(now() + Duration::days(30)),
            last_used_at: None,
        };
        let mut tx = db.begin().await.unwrap();
        tokens::insert(&mut tx, &token).await.unwrap();
        let used = now();
        tokens::touch(&mut tx, id, used).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = db.read().await.unwrap();
        let found = tokens::by_hash(&mut conn, "hash-1").await.unwrap().unwrap();
        assert_eq!(found, TokenRow { last_used_at: Some(used), ..token });
        assert_eq!(tokens::for_user(&mut conn, owner).await.unwrap().len(), 1);
        drop(conn);
        let mut tx = db.begin().await.unwrap();
        assert!(!tokens::delete(&mut tx, UserId::new(), id).await.unwrap(), "only the owner deletes");
        assert!(tokens::delete(&mut tx, owner, id).await.unwrap());
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert!(tokens::by_hash(&mut conn, "hash-1").await.unwrap().is_none());
    }
}
