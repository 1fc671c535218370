-- Chat conversations with the agent ---------------------------------------------
-- Portable SQL (the PostgreSQL migration is the same file): TEXT ids, BIGINT
-- Unix-millisecond times, JSON kept as TEXT.

CREATE TABLE conversations (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The first user message, shortened; for lists.
    title          TEXT NOT NULL DEFAULT '',
    -- A destructive or bulk change the agent proposed and the person has not yet
    -- confirmed (JSON: id, summary, the tool calls to run). At most one.
    pending_action TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX conversations_user ON conversations (user_id, updated_at);

-- The messages in Chat Completions shape, so the history goes back to the model
-- as stored: user, assistant (text and/or tool_calls), and tool results.
CREATE TABLE conversation_messages (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    -- "user", "assistant" or "tool".
    role            TEXT NOT NULL,
    content         TEXT,
    -- assistant: JSON array of {id, name, arguments, status, ...}.
    tool_calls      TEXT,
    -- tool: the call this message answers, and the tool's name.
    tool_call_id    TEXT,
    name            TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
