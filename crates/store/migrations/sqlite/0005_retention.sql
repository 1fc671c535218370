-- Retention (housekeeping) -----------------------------------------------------
-- Portable SQL (the PostgreSQL migration is the same file).
-- The scheduler's housekeeping deletes old rows in batches of "any N rows older
-- than a cutoff"; without these indexes every batch would scan its table from
-- the start, past the dead rows of the batches before it. The partial indexes
-- hold only rows housekeeping may delete (finished deliveries and e-mails, read
-- notifications), so the busy pending rows pay nothing for them; their
-- predicates are repeated word for word in the deletes, which is how SQLite
-- recognises that a partial index applies.
CREATE INDEX inbox_handled ON inbox (handled_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at) WHERE status IN ('delivered', 'failed');
CREATE INDEX email_outbox_finished ON email_outbox (created_at) WHERE status IN ('sent', 'failed');
CREATE INDEX notifications_read ON notifications (read_at) WHERE read_at IS NOT NULL;
