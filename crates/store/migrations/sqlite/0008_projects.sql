-- Projects, their sections and members. Every account gets an Inbox; tasks
-- written before projects existed are moved into their owner's Inbox by the
-- application at start (`ontask_app::projects::adopt_orphans`), with a
-- `task.moved` event each, so the log still rebuilds every task.
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    colour      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- 1 for the account's Inbox, 0 otherwise (integers: both backends, one SQL).
    inbox       BIGINT NOT NULL DEFAULT 0,
    archived    BIGINT NOT NULL DEFAULT 0,
    position    BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_one_inbox ON projects (owner_id) WHERE inbox = 1;

CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
-- "Which projects may this person see": every list and every live feed asks.
CREATE INDEX project_members_user ON project_members (user_id, project_id);

CREATE TABLE sections (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    position   BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sections_project ON sections (project_id, position, id);

-- NULL project only until the start that adopts the task into an Inbox.
-- No foreign keys: a project's tasks are deleted by the application, one
-- event each, never by a cascade that the log would not see.
ALTER TABLE tasks ADD COLUMN project_id TEXT;
ALTER TABLE tasks ADD COLUMN section_id TEXT;
ALTER TABLE tasks ADD COLUMN parent_id TEXT;
ALTER TABLE tasks ADD COLUMN assignee_id TEXT;

-- Lists are per project now (a person sees the projects they are a member
-- of), so the sort indexes lead with the project instead of the owner.
DROP INDEX tasks_owner_position;
DROP INDEX tasks_owner_due_asc;
DROP INDEX tasks_owner_due_desc;
DROP INDEX tasks_owner_created;
DROP INDEX tasks_owner_updated;
DROP INDEX tasks_owner_priority;
DROP INDEX tasks_owner_status_due;
CREATE INDEX tasks_project_position ON tasks (project_id, position, id);
CREATE INDEX tasks_project_due_asc ON tasks (project_id, COALESCE(due_at, 9223372036854775807), id);
CREATE INDEX tasks_project_due_desc ON tasks (project_id, COALESCE(due_at, -9223372036854775807), id);
CREATE INDEX tasks_project_created ON tasks (project_id, created_at, id);
CREATE INDEX tasks_project_updated ON tasks (project_id, updated_at, id);
CREATE INDEX tasks_project_priority ON tasks (project_id, priority, id);
CREATE INDEX tasks_project_status_due ON tasks (project_id, status, due_at);
CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX tasks_owner_orphans ON tasks (owner_id) WHERE project_id IS NULL;

ALTER TABLE events ADD COLUMN project_id TEXT;
CREATE INDEX events_project ON events (project_id, seq) WHERE project_id IS NOT NULL;
