-- After a rotation the replaced secret keeps signing (next to the new one, as
-- Standard Webhooks allows several signatures) until it expires, so receivers
-- can switch to the new secret without missing a delivery.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_expires_at BIGINT;
