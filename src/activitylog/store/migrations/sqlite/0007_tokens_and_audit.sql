-- Personal API tokens, the credentials version that tells other processes a credential
-- changed, and the audit trail of who did what, from where, and when.

-- A token's secret is never stored: only its SHA-256, which is enough for 256 random bits (no
-- one guesses them, so no slow hash is needed). Deleting the user deletes its tokens.
CREATE TABLE api_tokens (
    token_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_used_at INTEGER,
    UNIQUE (user_id, name)
);

-- One row, one number, bumped in the transaction that revokes a token or changes or deletes a
-- user: a process that sees it move drops every token it trusted, so revocations reach it
-- within one check interval.
CREATE TABLE credentials_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version INTEGER NOT NULL
);
INSERT INTO credentials_version (singleton, version) VALUES (1, 1);

-- Failed sign-ins are counted, one row per (domain, kind, actor, address, hour): `hour` is set
-- only on such counted rows, and the partial unique index below is what they add up on.
CREATE TABLE audit_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id INTEGER NOT NULL REFERENCES identity_domains (domain_id),
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    address TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    last_occurred_at INTEGER NOT NULL,
    occurrences INTEGER NOT NULL DEFAULT 1,
    hour INTEGER
);
CREATE UNIQUE INDEX audit_events_counted
    ON audit_events (domain_id, kind, actor, address, hour) WHERE hour IS NOT NULL;
CREATE INDEX audit_events_by_time ON audit_events (domain_id, occurred_at);
CREATE INDEX audit_events_by_kind ON audit_events (domain_id, kind, occurred_at);
