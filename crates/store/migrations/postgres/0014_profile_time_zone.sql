-- The time zone a person chose in their profile (an IANA name); NULL follows
-- the device they use (the browser's zone, or UTC where there is none).
ALTER TABLE users ADD COLUMN timezone TEXT;
