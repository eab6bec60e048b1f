-- Named queries both stores run as they are. Parameters are named (:name); the PostgreSQL store
-- numbers them ($1, $2, ...) once, when it loads the file. A query that must differ by dialect
-- is in sqlite.sql or postgres.sql under the same name, which then replaces the one here.
-- Columns that a store maps to a record (store/records.py ROW_RECORDS) are named as the
-- record's fields, in its order; tests/contract/test_row_records.py checks them.

-- name: insert_domain
INSERT INTO identity_domains (name, created_at) VALUES (:name, :now)
RETURNING domain_id, name

-- name: get_domain
SELECT domain_id, name FROM identity_domains WHERE name = :name

-- name: list_domains
SELECT domain_id, name FROM identity_domains ORDER BY name

-- name: insert_user
INSERT INTO users (domain_id, name, password_hash, role, created_at)
VALUES (:domain_id, :name, :password_hash, :role, :now)
RETURNING user_id

-- name: update_user
UPDATE users
SET password_hash = coalesce(:password_hash, password_hash),
    role = coalesce(:role, role),
    credential_version = credential_version + 1
WHERE domain_id = :domain_id AND name = :name
RETURNING user_id

-- name: delete_user
DELETE FROM users WHERE domain_id = :domain_id AND name = :name RETURNING user_id

-- name: lock_domain_users
-- Before a change that may remove an admin. SQLite's writes take turns already; PostgreSQL
-- locks the domain's row (postgres.sql).
SELECT domain_id FROM identity_domains WHERE domain_id = :domain_id

-- name: domain_admins
SELECT name FROM users WHERE domain_id = :domain_id AND role = 'admin'

-- name: find_user
SELECT u.user_id, u.domain_id, d.name AS domain_name, u.name, u.password_hash, u.role, u.credential_version
FROM users u JOIN identity_domains d ON d.domain_id = u.domain_id
WHERE d.name = :domain_name AND u.name = :name

-- name: list_users
SELECT u.user_id, u.domain_id, d.name AS domain_name, u.name, u.password_hash, u.role, u.credential_version
FROM users u JOIN identity_domains d ON d.domain_id = u.domain_id
WHERE d.name = :domain_name ORDER BY u.name

-- name: get_live_instance
SELECT i.service_id, d.name AS identity_domain, i.service_type, i.name, i.description,
       i.state, i.parameters, i.created_by, i.created_at, i.updated_at
FROM service_instances i JOIN identity_domains d ON d.domain_id = i.domain_id
WHERE i.domain_id = :domain_id AND i.service_type = :service_type AND i.name = :name
  AND i.state <> 'deleted'

-- name: lock_live_instance
-- The instance an operation acts on, locked until the transaction ends. On SQLite the
-- writer's BEGIN IMMEDIATE already holds the whole file, so this is a plain read;
-- postgres.sql locks the row.
SELECT i.service_id, d.name AS identity_domain, i.service_type, i.name, i.description,
       i.state, i.parameters, i.created_by, i.created_at, i.updated_at
FROM service_instances i JOIN identity_domains d ON d.domain_id = i.domain_id
WHERE i.domain_id = :domain_id AND i.service_type = :service_type AND i.name = :name
  AND i.state <> 'deleted'

-- name: list_live_instances
SELECT i.service_id, d.name AS identity_domain, i.service_type, i.name, i.description,
       i.state, i.parameters, i.created_by, i.created_at, i.updated_at
FROM service_instances i JOIN identity_domains d ON d.domain_id = i.domain_id
WHERE i.domain_id = :domain_id AND i.service_type = :service_type AND i.state <> 'deleted'
ORDER BY i.name

-- name: last_jobs_of_live_instances
-- The newest job of each live instance of the type: one step down jobs_by_service (0008) each,
-- then one primary-key read. PostgreSQL plans this join as a hash of every job (postgres.sql).
SELECT j.service_id, j.job_id, j.operation_type, j.status, j.start_date, j.end_date
FROM service_instances i
JOIN jobs j ON j.job_id = (SELECT max(l.job_id) FROM jobs l WHERE l.service_id = i.service_id)
WHERE i.domain_id = :domain_id AND i.service_type = :service_type AND i.state <> 'deleted'

-- name: insert_instance
INSERT INTO service_instances
    (domain_id, service_type, name, description, state, parameters, created_by, created_at,
     updated_at)
VALUES (:domain_id, :service_type, :name, :description, :state, :parameters, :created_by, :now,
        :now)
RETURNING service_id

-- name: set_instance_state
UPDATE service_instances SET state = :state, updated_at = :now WHERE service_id = :service_id

-- name: set_instance_parameters
UPDATE service_instances SET parameters = :parameters, updated_at = :now
WHERE service_id = :service_id

-- name: get_instance_parameters
SELECT parameters FROM service_instances WHERE service_id = :service_id

-- name: job_in_flight
SELECT job_id FROM jobs WHERE service_id = :service_id AND status IN ('NEW', 'RUNNING')

-- name: insert_job
INSERT INTO jobs
    (activity_log_id, domain_id, identity_domain, service_id, service_name, service_type,
     operation_type, status, auth_domain, auth_user, initiated_by, parameters,
     previous_instance_state, start_date, run_after, max_attempts, backoff_ms, message_count)
VALUES
    (:activity_log_id, :domain_id, :identity_domain, :service_id, :service_name, :service_type,
     :operation_type, 'NEW', :auth_domain, :auth_user, :initiated_by, :parameters,
     :previous_instance_state, :now, :now, :max_attempts, :backoff_ms, 1)
RETURNING job_id

-- name: insert_message
INSERT INTO job_messages (job_id, position, activity_date, message)
VALUES (:job_id, :position, :now, :message)

-- name: reserve_message_positions
-- This and the worker's other writes are fenced by its lease token alone: an expired lease is
-- still its holder's until a rescue takes the job back (which clears the token), so that a
-- worker that could not renew while the database refused writes still records its job's end.
UPDATE jobs SET message_count = message_count + :count, version = version + 1
WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'
RETURNING message_count

-- name: renew_lease
-- Also tells the worker whether someone asked to cancel the job meanwhile.
UPDATE jobs SET lease_expires_at = :expires_at
WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'
RETURNING cancel_requested_by

-- name: end_job
UPDATE jobs
SET status = :status, end_date = :now, lease_token = NULL, lease_owner = NULL,
    lease_expires_at = NULL, message_count = message_count + :count, version = version + 1
WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'
RETURNING message_count, service_id, operation_type, previous_instance_state, parameters

-- name: set_progress
UPDATE jobs SET percent_complete = :percent, version = version + 1
WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'
RETURNING job_id

-- name: lock_running_job
-- The job a worker holds, if it still holds it, and who asked to cancel it.
-- On SQLite the writer's BEGIN IMMEDIATE already serialises this with a cancellation;
-- postgres.sql locks the row.
SELECT cancel_requested_by FROM jobs
WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'

-- name: job_cancel_request
-- A worker's cheap check, after the job changed, that it still holds the job and whether
-- someone asked to cancel it.
SELECT cancel_requested_by FROM jobs
WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'

-- name: close_job
-- Ends a job whoever holds it; callers have checked (and locked) it first.
UPDATE jobs
SET status = :status, end_date = :now, lease_token = NULL, lease_owner = NULL,
    lease_expires_at = NULL, message_count = message_count + :count, version = version + 1
WHERE job_id = :job_id AND status IN ('NEW', 'RUNNING')
RETURNING message_count, service_id, operation_type, previous_instance_state, parameters

-- name: requeue_job
-- Back to NEW for another attempt; `extra_attempts` gives back an attempt the worker did not
-- lose but handed back (on shutdown).
UPDATE jobs
SET status = 'NEW', run_after = :run_after, lease_token = NULL, lease_owner = NULL,
    lease_expires_at = NULL, max_attempts = max_attempts + :extra_attempts,
    message_count = message_count + 1, version = version + 1
WHERE job_id = :job_id AND status = 'RUNNING'
RETURNING message_count

-- name: expired_leases
-- RUNNING jobs whose worker stopped renewing: it died, hung, or lost the database.
-- :live_leases, a JSON array of lease tokens whose workers are known to be alive, are spared.
SELECT job_id, domain_id, attempt, max_attempts, backoff_ms, cancel_requested_by FROM jobs
WHERE status = 'RUNNING' AND lease_expires_at < :now
  AND lease_token NOT IN (SELECT value FROM json_each(:live_leases))
ORDER BY job_id

-- name: lock_job_for_cancel
SELECT status, cancel_requested_by FROM jobs
WHERE job_id = :job_id AND domain_id = :domain_id

-- name: record_cancel_request
UPDATE jobs
SET cancel_requested_by = :requested_by, message_count = message_count + 1,
    version = version + 1
WHERE job_id = :job_id
RETURNING message_count

-- name: claim_idempotency_key
-- Returns a row when this request now owns the key: it was free, or its last use expired.
INSERT INTO idempotency_keys (domain_id, idempotency_key, fingerprint, created_at)
VALUES (:domain_id, :idempotency_key, :fingerprint, :now)
ON CONFLICT (domain_id, idempotency_key) DO UPDATE
SET fingerprint = excluded.fingerprint, job_id = NULL, created_at = excluded.created_at
WHERE idempotency_keys.created_at < :expired_before
RETURNING domain_id

-- name: find_idempotency_key
SELECT k.fingerprint, j.job_id, j.activity_log_id, j.service_id
FROM idempotency_keys k JOIN jobs j ON j.job_id = k.job_id
WHERE k.domain_id = :domain_id AND k.idempotency_key = :idempotency_key

-- name: set_idempotency_job
UPDATE idempotency_keys SET job_id = :job_id
WHERE domain_id = :domain_id AND idempotency_key = :idempotency_key

-- Personal API tokens --------------------------------------------------------------------------
-- A nullable parameter is CAST where it is tested for NULL, so that PostgreSQL knows its type.

-- name: insert_token
INSERT INTO api_tokens (user_id, name, secret_hash, role, created_by, created_at, expires_at)
VALUES (:user_id, :name, :secret_hash, :role, :created_by, :now, :expires_at)
RETURNING token_id

-- name: get_token
SELECT t.token_id, t.user_id, u.name AS user_name, t.name, t.role, t.created_by, t.created_at,
       t.expires_at, t.last_used_at
FROM api_tokens t JOIN users u ON u.user_id = t.user_id
WHERE t.token_id = :token_id AND u.domain_id = :domain_id

-- name: list_tokens
SELECT t.token_id, t.user_id, u.name AS user_name, t.name, t.role, t.created_by, t.created_at,
       t.expires_at, t.last_used_at
FROM api_tokens t JOIN users u ON u.user_id = t.user_id
WHERE u.domain_id = :domain_id AND (CAST(:user_id AS BIGINT) IS NULL OR t.user_id = :user_id)
ORDER BY t.token_id

-- name: find_token_by_secret
-- The token presented as a Bearer credential, with its user's current role, which caps it.
SELECT t.token_id, t.user_id, u.domain_id, d.name AS domain_name, u.name AS user_name,
       t.role AS token_role, u.role AS user_role, t.expires_at, t.last_used_at
FROM api_tokens t
JOIN users u ON u.user_id = t.user_id
JOIN identity_domains d ON d.domain_id = u.domain_id
WHERE t.secret_hash = :secret_hash

-- name: delete_token
DELETE FROM api_tokens WHERE token_id = :token_id RETURNING token_id

-- name: record_token_use
-- Never moves last_used_at back: another process may have written a later use first.
UPDATE api_tokens SET last_used_at = :now
WHERE token_id = :token_id AND (last_used_at IS NULL OR last_used_at < :now)

-- name: bump_credentials_version
UPDATE credentials_version SET version = version + 1 WHERE singleton = 1

-- name: credentials_version
SELECT version FROM credentials_version WHERE singleton = 1

-- The audit trail -------------------------------------------------------------------------------

-- name: insert_audit_event
INSERT INTO audit_events
    (domain_id, kind, actor, address, subject, details, occurred_at, last_occurred_at)
VALUES (:domain_id, :kind, :actor, :address, :subject, :details, :now, :now)

-- name: count_audit_event
-- One row per (domain, kind, actor, address, hour), counting its events.
INSERT INTO audit_events
    (domain_id, kind, actor, address, subject, details, occurred_at, last_occurred_at, hour)
VALUES (:domain_id, :kind, :actor, :address, :subject, :details, :now, :now, :hour)
ON CONFLICT (domain_id, kind, actor, address, hour) WHERE hour IS NOT NULL
DO UPDATE SET occurrences = audit_events.occurrences + 1,
              last_occurred_at = excluded.last_occurred_at

-- name: count_audit_events
SELECT count(*) FROM audit_events
WHERE domain_id = :domain_id AND (CAST(:kind AS TEXT) IS NULL OR kind = :kind)
  AND (CAST(:since AS BIGINT) IS NULL OR last_occurred_at >= :since)
  AND (CAST(:until AS BIGINT) IS NULL OR occurred_at <= :until)

-- name: audit_events_page
SELECT event_id, kind, actor, address, subject, details, occurred_at, last_occurred_at,
       occurrences
FROM audit_events
WHERE domain_id = :domain_id AND (CAST(:kind AS TEXT) IS NULL OR kind = :kind)
  AND (CAST(:since AS BIGINT) IS NULL OR last_occurred_at >= :since)
  AND (CAST(:until AS BIGINT) IS NULL OR occurred_at <= :until)
ORDER BY occurred_at DESC, event_id DESC
LIMIT :limit OFFSET :offset

-- name: find_user_in_domain
SELECT user_id, role FROM users WHERE domain_id = :domain_id AND name = :name

-- Retention (store/retention_transactions.py): ended jobs older than their policy's age, and
-- the idempotency keys and audit events of those days, go in small batches.

-- name: try_prune_lock
-- Whether this transaction may prune: always on SQLite, whose writes take turns anyway.
SELECT 1

-- name: retention_classes
-- Each (domain, service type) that has ended jobs: what the policy gives an age to. Read from
-- the kept counts (a few rows), not from the jobs.
SELECT c.domain_id, d.name AS domain_name, c.service_type FROM job_counts c
JOIN identity_domains d ON d.domain_id = c.domain_id
WHERE c.status IN ('SUCCEED', 'FAILED', 'WARN')
GROUP BY c.domain_id, d.name, c.service_type
HAVING sum(c.jobs) > 0
ORDER BY c.domain_id, c.service_type

-- name: retention_domains
SELECT domain_id, name AS domain_name FROM identity_domains ORDER BY domain_id

-- name: prunable_jobs
-- A job ends after it starts, so `start_date < :cutoff` lets the (domain, service type, start
-- date) index of the filter find the candidates; the oldest go first.
SELECT job_id, message_count FROM jobs
WHERE domain_id = :domain_id AND service_type = :service_type
  AND start_date < :cutoff AND end_date < :cutoff
  AND status IN ('SUCCEED', 'FAILED', 'WARN')
ORDER BY start_date
LIMIT :limit

-- name: count_prunable_jobs
SELECT count(*), coalesce(sum(message_count), 0) FROM jobs
WHERE domain_id = :domain_id AND service_type = :service_type
  AND start_date < :cutoff AND end_date < :cutoff
  AND status IN ('SUCCEED', 'FAILED', 'WARN')

-- name: delete_messages_of_jobs
DELETE FROM job_messages WHERE job_id IN (SELECT value FROM json_each(:job_ids))

-- name: delete_idempotency_keys_of_jobs
DELETE FROM idempotency_keys WHERE job_id IN (SELECT value FROM json_each(:job_ids))

-- name: delete_jobs
-- The job_counts triggers count each deleted job out, in this transaction: counts stay exact.
DELETE FROM jobs WHERE job_id IN (SELECT value FROM json_each(:job_ids))

-- name: prune_idempotency_keys
DELETE FROM idempotency_keys
WHERE (domain_id, idempotency_key) IN (
    SELECT domain_id, idempotency_key FROM idempotency_keys
    WHERE domain_id = :domain_id AND created_at < :cutoff LIMIT :limit
)
RETURNING 1

-- name: prune_audit_events
DELETE FROM audit_events
WHERE event_id IN (
    SELECT event_id FROM audit_events
    WHERE domain_id = :domain_id AND last_occurred_at < :cutoff LIMIT :limit
)
RETURNING 1

-- name: applied_migrations
-- Health (/health/ready) and `activitylog migrate --check`: which migrations the database has.
SELECT version FROM schema_migrations ORDER BY version

-- name: waiting_jobs
-- /metrics: jobs that could run now, and since when the oldest could. Reads the NEW jobs
-- (the claim order's partial index): cheap while the queue is short, as it should be.
SELECT count(*), min(run_after) FROM jobs WHERE status = 'NEW' AND run_after <= :now

-- The console's sign-in sessions (store/security_transactions.py) --------------------------------

-- name: insert_console_session
INSERT INTO console_sessions
    (session_hash, user_id, user_version, csrf_token, created_at, last_seen_at)
VALUES (:session_hash, :user_id, :user_version, :csrf_token, :now, :now)

-- name: find_console_session
-- A session counts only while its user exists with the credential_version it signed in with,
-- and was seen after :idle_since; who it is for is read fresh from the user's row.
SELECT s.user_id, u.domain_id, d.name AS domain_name, u.name AS user_name, u.role,
       s.csrf_token, s.last_seen_at
FROM console_sessions s
JOIN users u ON u.user_id = s.user_id AND u.credential_version = s.user_version
JOIN identity_domains d ON d.domain_id = u.domain_id
WHERE s.session_hash = :session_hash AND s.last_seen_at > :idle_since

-- name: touch_console_session
-- Never moves last_seen_at back: another process may have written a later request first.
UPDATE console_sessions SET last_seen_at = :now
WHERE session_hash = :session_hash AND last_seen_at < :now

-- name: delete_console_session
DELETE FROM console_sessions WHERE session_hash = :session_hash

-- name: trim_user_console_sessions
-- Keep the user's :keep most recently seen sessions; end the others.
DELETE FROM console_sessions
WHERE user_id = :user_id AND session_hash NOT IN (
    SELECT session_hash FROM console_sessions WHERE user_id = :user_id
    ORDER BY last_seen_at DESC, created_at DESC LIMIT :keep)

-- name: delete_idle_console_sessions
-- At most :limit sessions not seen since :idle_since, oldest first (console_sessions_by_last_seen).
DELETE FROM console_sessions
WHERE session_hash IN (
    SELECT session_hash FROM console_sessions WHERE last_seen_at <= :idle_since
    ORDER BY last_seen_at LIMIT :limit)
RETURNING session_hash

-- name: jobs_started_per_bucket
-- The console's Overview: the domain's jobs started in [:since, :until), per bucket of
-- :bucket_ms named by its start. Reads the (domain_id, start_date) index alone: 5 ms for the
-- 39,000 jobs of 7 days at a million jobs on SQLite.
SELECT start_date - start_date % :bucket_ms AS bucket, count(*) AS jobs
FROM jobs
WHERE domain_id = :domain_id AND start_date >= :since AND start_date < :until
GROUP BY 1
ORDER BY 1

-- name: jobs_ended_per_bucket
-- The Overview: the domain's jobs ended in [:since, :until), per bucket and status.
SELECT end_date - end_date % :bucket_ms AS bucket, status, count(*) AS jobs
FROM jobs
WHERE domain_id = :domain_id AND end_date >= :since AND end_date < :until
GROUP BY 1, 2
ORDER BY 1, 2

-- name: durations_per_operation
-- The Overview: exact p50 and p95 of the durations of the domain's jobs ended in
-- [:since, :until), by operation type, the same on both databases (SQLite has no percentile
-- functions): rank each duration in its operation type, then take the least one whose rank
-- reaches p of them, which is PostgreSQL's percentile_disc (a contract test compares them).
WITH ended AS (
    SELECT operation_type, end_date - start_date AS duration,
        row_number() OVER (PARTITION BY operation_type ORDER BY end_date - start_date) AS rank,
        count(*) OVER (PARTITION BY operation_type) AS jobs
    FROM jobs
    WHERE domain_id = :domain_id AND end_date >= :since AND end_date < :until
)
SELECT operation_type, jobs,
    min(CASE WHEN rank * 100 >= jobs * 50 THEN duration END) AS p50_ms,
    min(CASE WHEN rank * 100 >= jobs * 95 THEN duration END) AS p95_ms
FROM ended
GROUP BY operation_type, jobs
ORDER BY operation_type

-- name: lease_holders
-- The Overview: the workers holding unexpired leases, and the leases, in every domain (a
-- worker serves them all). Reads the RUNNING jobs' lease index: as many rows as jobs running.
SELECT count(DISTINCT lease_owner) AS workers, count(*) AS leases
FROM jobs
WHERE status = 'RUNNING' AND lease_expires_at >= :now
