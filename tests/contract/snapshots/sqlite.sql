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

CREATE TABLE console_sessions (
    session_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    user_version INTEGER NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);

CREATE TABLE credentials_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version INTEGER NOT NULL
);

CREATE TABLE id_sequences (
    name TEXT PRIMARY KEY,
    last_value INTEGER NOT NULL
);

CREATE TABLE idempotency_keys (
    domain_id INTEGER NOT NULL REFERENCES identity_domains (domain_id),
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    job_id INTEGER REFERENCES jobs (job_id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (domain_id, idempotency_key)
) WITHOUT ROWID;

CREATE TABLE identity_domains (
    domain_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE job_counts (
    domain_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    service_type TEXT NOT NULL,
    jobs INTEGER NOT NULL,
    PRIMARY KEY (domain_id, status, service_type)
) WITHOUT ROWID;

CREATE TABLE job_messages (
    job_id INTEGER NOT NULL REFERENCES jobs (job_id),
    position INTEGER NOT NULL,
    activity_date INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;

CREATE TABLE jobs (
    job_id INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_log_id INTEGER NOT NULL UNIQUE,
    domain_id INTEGER NOT NULL REFERENCES identity_domains (domain_id),
    identity_domain TEXT NOT NULL,
    service_id INTEGER NOT NULL REFERENCES service_instances (service_id),
    service_name TEXT NOT NULL,
    service_type TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('NEW', 'RUNNING', 'SUCCEED', 'FAILED', 'WARN')),
    auth_domain TEXT NOT NULL,
    auth_user TEXT NOT NULL,
    initiated_by TEXT NOT NULL,
    parameters TEXT NOT NULL,
    previous_instance_state TEXT NOT NULL,
    start_date INTEGER NOT NULL,
    end_date INTEGER,
    priority INTEGER NOT NULL DEFAULT 0,
    run_after INTEGER NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    lease_token TEXT,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    message_count INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    percent_complete INTEGER
, backoff_ms INTEGER NOT NULL DEFAULT 0, cancel_requested_by TEXT);

CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);

CREATE TABLE service_instances (
    service_id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id INTEGER NOT NULL REFERENCES identity_domains (domain_id),
    service_type TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    parameters TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE sqlite_sequence(name,seq);

CREATE TABLE users (
    user_id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id INTEGER NOT NULL REFERENCES identity_domains (domain_id),
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    credential_version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE INDEX audit_events_by_kind ON audit_events (domain_id, kind, occurred_at);

CREATE INDEX audit_events_by_time ON audit_events (domain_id, occurred_at);

CREATE UNIQUE INDEX audit_events_counted
    ON audit_events (domain_id, kind, actor, address, hour) WHERE hour IS NOT NULL;

CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);

CREATE INDEX console_sessions_by_user ON console_sessions (user_id, last_seen_at);

CREATE INDEX jobs_by_domain ON jobs (domain_id);

CREATE INDEX jobs_by_domain_start ON jobs (domain_id, start_date);

CREATE INDEX jobs_by_end_date ON jobs (domain_id, end_date);

CREATE INDEX jobs_by_operation_status ON jobs (domain_id, operation_type, status, start_date);

CREATE INDEX jobs_by_operation_type ON jobs (domain_id, operation_type, start_date);

CREATE INDEX jobs_by_service ON jobs (service_id);

CREATE INDEX jobs_by_service_name ON jobs (domain_id, service_name, start_date);

CREATE INDEX jobs_by_service_type ON jobs (domain_id, service_type, start_date);

CREATE INDEX jobs_by_status ON jobs (domain_id, status, start_date);

CREATE INDEX jobs_claim_order ON jobs (priority DESC, job_id) WHERE status = 'NEW';

CREATE UNIQUE INDEX jobs_one_in_flight_per_service
    ON jobs (service_id) WHERE status IN ('NEW', 'RUNNING');

CREATE INDEX jobs_running_leases ON jobs (lease_expires_at) WHERE status = 'RUNNING';

CREATE UNIQUE INDEX service_instances_live_name
    ON service_instances (domain_id, service_type, name) WHERE state <> 'deleted';

CREATE TRIGGER job_counts_after_delete AFTER DELETE ON jobs
BEGIN
    UPDATE job_counts SET jobs = jobs - 1
    WHERE domain_id = OLD.domain_id AND status = OLD.status
      AND service_type = OLD.service_type;
END;

CREATE TRIGGER job_counts_after_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_counts (domain_id, status, service_type, jobs)
    VALUES (NEW.domain_id, NEW.status, NEW.service_type, 1)
    ON CONFLICT (domain_id, status, service_type) DO UPDATE SET jobs = jobs + 1;
END;

CREATE TRIGGER job_counts_after_update AFTER UPDATE OF domain_id, status, service_type ON jobs
WHEN OLD.domain_id <> NEW.domain_id OR OLD.status <> NEW.status
  OR OLD.service_type <> NEW.service_type
BEGIN
    UPDATE job_counts SET jobs = jobs - 1
    WHERE domain_id = OLD.domain_id AND status = OLD.status
      AND service_type = OLD.service_type;
    INSERT INTO job_counts (domain_id, status, service_type, jobs)
    VALUES (NEW.domain_id, NEW.status, NEW.service_type, 1)
    ON CONFLICT (domain_id, status, service_type) DO UPDATE SET jobs = jobs + 1;
END;
