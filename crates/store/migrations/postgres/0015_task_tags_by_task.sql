-- Nothing reads task_tags by owner: a tag filter looks up (task_id, tag), the
-- tag counts join from the tasks of a project. The index only cost writes.
DROP INDEX task_tags_owner_tag;
