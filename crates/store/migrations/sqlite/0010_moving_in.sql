-- Moving in and staying in sync (issue 15): what an import created, import
-- jobs, and each person's calendar feed.

-- One row per item an import created, keyed by where it came from (the
-- file's UID, the original id of an ontask export, or a Todoist row's place),
-- so that importing the same file again creates nothing twice.
CREATE TABLE import_sources (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source_key TEXT NOT NULL,
    -- project, section, task or comment
    kind       TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, source_key)
);

-- An import started over the API: its progress and, once done, its report.
CREATE TABLE import_jobs (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    format     TEXT NOT NULL,
    dry_run    BIGINT NOT NULL,
    -- queued, running, done or failed
    status     TEXT NOT NULL,
    done       BIGINT NOT NULL,
    total      BIGINT NOT NULL,
    -- The report as JSON, once the job is over.
    report     TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX import_jobs_user ON import_jobs (user_id, created_at);

-- A person's calendar feed: the SHA-256 of its secret (the secret itself is
-- shown once, in the feed's URL), one per person.
CREATE TABLE calendar_feeds (
    user_id     TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
