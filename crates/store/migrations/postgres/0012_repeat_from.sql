-- What a recurring task's next occurrence counts from: NULL for its due (a
-- fixed schedule, as every series before this), 'completion' for the day it
-- is completed ("every!" in Todoist).
ALTER TABLE tasks ADD COLUMN repeat_from TEXT;
