-- Identity domains, users, service instances, jobs and their messages.
-- Timestamps are BIGINT milliseconds since the epoch, UTC, as on SQLite.
-- Names compare and sort byte-wise (COLLATE "C"), as SQLite's BINARY collation does, so that
-- both stores order search results and listings the same whatever the database's locale.

CREATE TABLE identity_domains (
    domain_id BIGSERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    user_id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES identity_domains (domain_id),
    name TEXT COLLATE "C" NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    credential_version INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

-- activityLogId has a number space of its own, apart from jobId and serviceId.
CREATE SEQUENCE activity_log_id_seq AS BIGINT;

CREATE TABLE service_instances (
    service_id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES identity_domains (domain_id),
    service_type TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    -- JSON text, as on SQLite: the object keeps the key order it was given.
    parameters TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A deleted instance frees its name for a new one.
CREATE UNIQUE INDEX service_instances_live_name
    ON service_instances (domain_id, service_type, name) WHERE state <> 'deleted';

CREATE TABLE jobs (
    job_id BIGSERIAL PRIMARY KEY,
    activity_log_id BIGINT NOT NULL UNIQUE,
    domain_id BIGINT NOT NULL REFERENCES identity_domains (domain_id),
    identity_domain TEXT COLLATE "C" NOT NULL,
    service_id BIGINT NOT NULL REFERENCES service_instances (service_id),
    service_name TEXT COLLATE "C" NOT NULL,
    service_type TEXT COLLATE "C" NOT NULL,
    operation_type TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL
        CHECK (status IN ('NEW', 'RUNNING', 'SUCCEED', 'FAILED', 'WARN')),
    auth_domain TEXT NOT NULL,
    auth_user TEXT NOT NULL,
    initiated_by TEXT NOT NULL,
    parameters TEXT NOT NULL,
    previous_instance_state TEXT NOT NULL,
    start_date BIGINT NOT NULL,
    end_date BIGINT,
    priority INTEGER NOT NULL DEFAULT 0,
    run_after BIGINT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    lease_token TEXT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    message_count INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    percent_complete INTEGER
);
-- At most one operation in flight per service instance, enforced by the database itself.
CREATE UNIQUE INDEX jobs_one_in_flight_per_service
    ON jobs (service_id) WHERE status IN ('NEW', 'RUNNING');
CREATE INDEX jobs_claim_order ON jobs (priority DESC, job_id) WHERE status = 'NEW';
CREATE INDEX jobs_running_leases ON jobs (lease_expires_at) WHERE status = 'RUNNING';
-- One index per filter column, each ending in start_date so the default order needs no sort.
CREATE INDEX jobs_by_domain_start ON jobs (domain_id, start_date);
CREATE INDEX jobs_by_service_name ON jobs (domain_id, service_name, start_date);
CREATE INDEX jobs_by_service_type ON jobs (domain_id, service_type, start_date);
CREATE INDEX jobs_by_status ON jobs (domain_id, status, start_date);
CREATE INDEX jobs_by_operation_type ON jobs (domain_id, operation_type, start_date);

CREATE TABLE job_messages (
    job_id BIGINT NOT NULL REFERENCES jobs (job_id),
    position INTEGER NOT NULL,
    activity_date BIGINT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
);
