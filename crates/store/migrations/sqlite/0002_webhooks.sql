-- Outbound notifications: signed webhooks and e-mail ---------------------------
-- Portable SQL (the PostgreSQL migration is the same file): TEXT ids, BIGINT
-- Unix-millisecond times.

-- A user's webhook endpoints. The signing secret is kept in clear because every
-- delivery must be signed with it; it is shown to the user only once.
CREATE TABLE webhook_endpoints (
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    -- JSON array of event filters: "task.created", "task.*", "*".
    events               TEXT NOT NULL,
    secret               TEXT NOT NULL,
    -- "active" or "disabled" (after repeated failures, see disabled_reason).
    status               TEXT NOT NULL,
    disabled_reason      TEXT,
    -- Deliveries that failed every attempt since the last success.
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_user ON webhook_endpoints (user_id, status);

-- One row per (endpoint, event): the webhooks consumer writes it in the same
-- transaction as its inbox row, so each event is enqueued exactly once per
-- endpoint. The payload is frozen at enqueue time so every retry sends the
-- same bytes.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    -- "pending", "delivered" or "failed".
    status          TEXT NOT NULL,
    -- Attempts started so far; a worker claims attempt n+1 by moving it from n.
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- When the next attempt is due; while an attempt runs, when its claim lapses.
    next_attempt_at BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- Every attempt, for the delivery log.
CREATE TABLE webhook_attempts (
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    status_code  BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    attempted_at BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- E-mails to send, keyed by the event that asked for them (one e-mail per
-- reminder.due, however often the event is redelivered).
CREATE TABLE email_outbox (
    event_id        TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- "pending", "sent" or "failed".
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE status = 'pending';
