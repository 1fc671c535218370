-- CalDAV (RFC 4791): calendar collections are projects, calendar object
-- resources are tasks.

-- The resource name and UID a client chose for a task it created (a client
-- PUTs "8C1F....ics" with a UID of its own), so that it finds both again; a
-- task without a row is "{id}.ics" with its id as UID. The row outlives its
-- task on purpose (no foreign key): a sync-collection report names a deleted
-- task by the href its client knows.
CREATE TABLE caldav_names (
    task_id    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    uid        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX caldav_names_name ON caldav_names (name);
CREATE INDEX caldav_names_uid ON caldav_names (uid);

-- A task moved to another project leaves its old project's calendar, but its
-- task.moved event is filed under the new project (events.project_id); this
-- index finds the moves out of a project, by the "from" the event carries,
-- for the collection's CTag and sync-collection. The queries repeat the
-- expression and the predicate word for word, so the planner uses it.
CREATE INDEX events_moved_from ON events (json_extract(data, '$.from.project_id'), seq) WHERE event_type = 'task.moved';
