-- The web console's sign-in sessions, in the database so that every API process sees them
-- (scale-out) and a restart keeps them.

-- The cookie's value is never stored: only its SHA-256 (256 random bits, as a token's secret),
-- so a row read out of the database does not sign anyone in. `user_version` is the user's
-- credential_version at sign-in: a session is valid only while the user still has it.
-- Deleting the user deletes its sessions.
CREATE TABLE console_sessions (
    session_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    user_version INTEGER NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
-- The sweep of idle sessions, oldest first.
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
-- A user's sessions: the cascade of its deletion, and the cap on how many it keeps.
CREATE INDEX console_sessions_by_user ON console_sessions (user_id, last_seen_at);
