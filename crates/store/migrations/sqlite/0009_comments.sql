-- Comments on tasks, and notifications for more than one person per event
-- (a comment mentions several members; an assignment notifies the assignee).
CREATE TABLE comments (
    id         TEXT PRIMARY KEY,
    task_id    TEXT NOT NULL,
    project_id TEXT NOT NULL,
    author_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    -- JSON list of the user ids the text mentions.
    mentioned  TEXT NOT NULL DEFAULT '[]',
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX comments_task ON comments (task_id, created_at, id);

-- One notification per event and person (was: per event). SQLite changes a
-- table's constraints by rebuilding it.
CREATE TABLE notifications_by_person (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    task_id    TEXT,
    event_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at    BIGINT,
    UNIQUE (event_id, user_id)
);
INSERT INTO notifications_by_person (id, user_id, kind, title, body, task_id, event_id, created_at, read_at)
    SELECT id, user_id, kind, title, body, task_id, event_id, created_at, read_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_by_person RENAME TO notifications;
CREATE INDEX notifications_user ON notifications (user_id, created_at);
CREATE INDEX notifications_read ON notifications (read_at) WHERE read_at IS NOT NULL;
