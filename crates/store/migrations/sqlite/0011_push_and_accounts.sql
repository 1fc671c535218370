-- Web Push (RFC 8030): the devices a person allowed notifications on, and the
-- messages to send to them; and what changing or resetting a password needs.

-- One row per browser push subscription. The endpoint is the push service's
-- URL for that device, a capability: whoever knows it can send to the device
-- (with the VAPID key), so it is shown only to its owner. Subscribing the same
-- endpoint again (the browser renewed its keys, or someone else signed in on
-- the device) replaces the row.
CREATE TABLE push_subscriptions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    endpoint     TEXT NOT NULL UNIQUE,
    -- The browser's P-256 public key and auth secret, base64url (RFC 8291).
    p256dh       TEXT NOT NULL,
    auth         TEXT NOT NULL,
    -- What the person sees in their device list ("Chrome on Linux").
    label        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_sent_at BIGINT
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id, created_at);

-- Messages to push, one per notification and device, claimed by the push
-- sender with the same conditional UPDATE as e-mails. A removed subscription
-- takes its pending messages with it.
CREATE TABLE push_outbox (
    notification_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    -- The JSON the service worker shows (title, body, url, tag), before encryption.
    payload         TEXT NOT NULL,
    -- "pending", "sent" or "failed".
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (notification_id, subscription_id)
);
CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX push_outbox_subscription ON push_outbox (subscription_id);

-- Sessions carry the generation of their account's credentials; changing the
-- password moves it on, which ends every session issued before (but the one
-- the change hands back).
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;

-- Password reset tokens sent by e-mail: only a hash is kept; each is
-- short-lived and used at most once.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id);
