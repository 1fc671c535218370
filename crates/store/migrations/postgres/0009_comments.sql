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

-- One notification per event and person (was: per event).
ALTER TABLE notifications DROP CONSTRAINT notifications_event_id_key;
ALTER TABLE notifications ADD CONSTRAINT notifications_event_id_user_id_key UNIQUE (event_id, user_id);
