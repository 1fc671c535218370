-- Accounts -------------------------------------------------------------------
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL DEFAULT '',
    password_hash    TEXT,
    role             TEXT NOT NULL DEFAULT 'user',
    -- "issuer|subject" for accounts provisioned from an external IdP's JWT.
    external_subject TEXT UNIQUE,
    created_at       BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Tasks ----------------------------------------------------------------------
-- Times are Unix milliseconds (BIGINT) so that sorting and range filters use plain
-- integer indexes on every backend.
CREATE TABLE tasks (
    id                TEXT PRIMARY KEY,
    owner_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    completed_at      BIGINT,
    priority          BIGINT NOT NULL,
    tags              TEXT NOT NULL DEFAULT '[]',
    due               TEXT,
    due_at            BIGINT,
    reminders         TEXT NOT NULL DEFAULT '[]',
    recurrence        TEXT,
    recurrence_anchor TEXT,
    -- At most one next occurrence per completed task, whatever is redelivered.
    recurs_from       TEXT UNIQUE,
    position          BIGINT NOT NULL,
    version           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX tasks_owner_position ON tasks (owner_id, position, id);
-- Tasks without a due sort last both ways: the list query orders by exactly
-- these expressions, so the planner can walk the index instead of sorting.
CREATE INDEX tasks_owner_due_asc ON tasks (owner_id, COALESCE(due_at, 9223372036854775807), id);
CREATE INDEX tasks_owner_due_desc ON tasks (owner_id, COALESCE(due_at, -9223372036854775807), id);
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id);
CREATE INDEX tasks_owner_updated ON tasks (owner_id, updated_at, id);
CREATE INDEX tasks_owner_priority ON tasks (owner_id, priority, id);
CREATE INDEX tasks_owner_status_due ON tasks (owner_id, status, due_at);

CREATE TABLE task_tags (
    task_id  TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL,
    tag      TEXT NOT NULL,
    PRIMARY KEY (task_id, tag)
);
CREATE INDEX task_tags_owner_tag ON task_tags (owner_id, tag);

-- Full-text search: a generated tsvector kept by PostgreSQL itself. The
-- 'simple' configuration matches words as typed (no language stemming), like
-- the SQLite build's unicode61 tokenizer.
ALTER TABLE tasks ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || description)) STORED;
CREATE INDEX tasks_search ON tasks USING GIN (search);

-- The event log (transactional outbox) ----------------------------------------
-- `seq` is the log position. Appending takes a transaction-scoped advisory
-- lock (see store::events::append), so `seq` order is commit order here too.
CREATE TABLE events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    event_type    TEXT NOT NULL,
    event_version TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    source        TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    task_id       TEXT,
    data          TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    published_at  BIGINT
);
CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;
CREATE INDEX events_task ON events (task_id, seq);
CREATE INDEX events_user ON events (user_id, seq);

-- Where each consumer is in the log, and which events it has handled. Both are
-- written in the same transaction as the consumer's effect.
CREATE TABLE consumer_offsets (
    consumer   TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE dead_letters (
    id         TEXT PRIMARY KEY,
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    error      TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (consumer, event_id)
);

-- Reminders and notifications ------------------------------------------------
CREATE TABLE reminders (
    task_id  TEXT NOT NULL,
    fire_at  BIGINT NOT NULL,
    owner_id TEXT NOT NULL,
    fired_at BIGINT,
    PRIMARY KEY (task_id, fire_at)
);
CREATE INDEX reminders_pending ON reminders (fire_at) WHERE fired_at IS NULL;

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    task_id    TEXT,
    event_id   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    read_at    BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);

-- Idempotency-Key replay -----------------------------------------------------
CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT,
    headers      TEXT,
    body         TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
