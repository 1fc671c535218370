-- task_tags is only ever read by task: a tag filter's point lookup of
-- (task_id, tag), the tag counts' join from the tasks of a project. So it is
-- one B-tree keyed that way (WITHOUT ROWID), not a table, its primary key's
-- index and an (owner_id, tag) index nothing reads. That index took more WAL
-- than any other, 2.1 pages a create (a batch of creates lands its tags at as
-- many places in it as there are distinct tags; bench/scripts/wal-pages.py).
CREATE TABLE task_tags_by_task (
    task_id  TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL,
    tag      TEXT NOT NULL,
    PRIMARY KEY (task_id, tag)
) WITHOUT ROWID;
INSERT INTO task_tags_by_task (task_id, owner_id, tag) SELECT task_id, owner_id, tag FROM task_tags;
DROP TABLE task_tags;
ALTER TABLE task_tags_by_task RENAME TO task_tags;
