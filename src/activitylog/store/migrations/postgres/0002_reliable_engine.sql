-- Retries after a lost worker, cancellation, and idempotent submission.

-- The wait before a job's first retry, in milliseconds; it doubles with each retry after that.
ALTER TABLE jobs ADD COLUMN backoff_ms BIGINT NOT NULL DEFAULT 0;
-- Who asked to cancel a RUNNING job; its worker then stops it, and it ends FAILED.
ALTER TABLE jobs ADD COLUMN cancel_requested_by TEXT;

-- One row per Idempotency-Key a client sent with an accepted operation. The primary key is
-- what makes two racing requests with one key yield one job: the second waits on the first's
-- uncommitted row, then finds it.
CREATE TABLE idempotency_keys (
    domain_id BIGINT NOT NULL REFERENCES identity_domains (domain_id),
    idempotency_key TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT NOT NULL,
    job_id BIGINT REFERENCES jobs (job_id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (domain_id, idempotency_key)
);
