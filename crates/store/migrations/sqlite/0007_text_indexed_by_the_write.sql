-- A task's text is indexed by the write that inserts it (`tasks::push_insert`),
-- no longer by a trigger. FTS5 writes its pending terms out at the start of
-- every statement that touches it inside a transaction, so a trigger row by row
-- made one FTS segment (and its merges) per task. The writer thread instead
-- indexes every task of a batch in one statement before it commits.
-- Updates and deletes keep their triggers: they are rarer, and one at a time.
DROP TRIGGER tasks_fts_insert;
