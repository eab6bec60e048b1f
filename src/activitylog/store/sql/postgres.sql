-- The PostgreSQL store's own queries: those that must differ from queries.sql, under the same
-- names (row locks, sequences, JSON), and those only PostgreSQL has (one statement where the
-- shared queries take several; notifications; advisory locks).

-- name: lock_domain_users
-- Changes that may remove one of a domain's admins take turns on the domain's row, so each
-- counts the admins after the one before it committed. NO KEY UPDATE: new users' foreign-key
-- checks (KEY SHARE) do not wait for it.
SELECT domain_id FROM identity_domains WHERE domain_id = :domain_id FOR NO KEY UPDATE

-- name: lock_live_instance
-- The instance an operation acts on, locked until the transaction ends: concurrent
-- submissions for one instance queue here, and each then sees the one before it.
SELECT i.service_id, d.name AS identity_domain, i.service_type, i.name, i.description,
       i.state, i.parameters, i.created_by, i.created_at, i.updated_at
FROM service_instances i JOIN identity_domains d ON d.domain_id = i.domain_id
WHERE i.domain_id = :domain_id AND i.service_type = :service_type AND i.name = :name
  AND i.state <> 'deleted'
FOR UPDATE OF i

-- name: next_activity_log_id
SELECT nextval('activity_log_id_seq')

-- name: last_jobs_of_live_instances
-- As in queries.sql, but LATERAL: there PostgreSQL hashed every job of the table to join on
-- the newest id; here each instance reads its newest job down jobs_by_service (0008).
SELECT j.service_id, j.job_id, j.operation_type, j.status, j.start_date, j.end_date
FROM service_instances i
CROSS JOIN LATERAL (
    SELECT l.service_id, l.job_id, l.operation_type, l.status, l.start_date, l.end_date
    FROM jobs l WHERE l.service_id = i.service_id ORDER BY l.job_id DESC LIMIT 1
) j
WHERE i.domain_id = :domain_id AND i.service_type = :service_type AND i.state <> 'deleted'

-- name: get_job
-- The job and, last, its messages as a JSON array of [activity_date, message]: one statement,
-- so a point read is one round trip (a prepared statement) and sees one snapshot.
SELECT j.activity_log_id, j.service_name, j.service_type, j.identity_domain, j.service_id,
       j.job_id, j.start_date, j.end_date, j.status, j.operation_type, j.auth_domain,
       j.auth_user, j.initiated_by, j.percent_complete, j.version,
       (SELECT coalesce(json_agg(json_build_array(m.activity_date, m.message)
                                 ORDER BY m.position), '[]')
        FROM job_messages m WHERE m.job_id = j.job_id) AS messages
FROM jobs j WHERE j.job_id = :job_id AND j.domain_id = :domain_id

-- name: get_job_by_log_id
-- As get_job.
SELECT j.activity_log_id, j.service_name, j.service_type, j.identity_domain, j.service_id,
       j.job_id, j.start_date, j.end_date, j.status, j.operation_type, j.auth_domain,
       j.auth_user, j.initiated_by, j.percent_complete, j.version,
       (SELECT coalesce(json_agg(json_build_array(m.activity_date, m.message)
                                 ORDER BY m.position), '[]')
        FROM job_messages m WHERE m.job_id = j.job_id) AS messages
FROM jobs j WHERE j.activity_log_id = :activity_log_id AND j.domain_id = :domain_id

-- name: claim_jobs
-- Up to :limit jobs in one statement, so a worker with free slots fills them in one commit.
-- Each attempt's token is the claim's random prefix and the job id: unique per attempt.
-- :service_types limits the claim to the types the worker has handlers for (NULL: any).
-- SKIP LOCKED: concurrent claimers pass over each other's rows instead of queueing on them,
-- so no two claim the same job and none waits.
-- MATERIALIZED: the pick runs once. Inside `IN (...)` the planner may run it again per row,
-- locking rows it then leaves alone, and two claimers doing so deadlock.
-- The caller turns bitmap scans off first (CLAIM_IN_INDEX_ORDER): otherwise the planner, whose
-- statistics rarely know how many jobs wait, reads and sorts every NEW job to take a few.
-- Each claimed job's "Started" message is written by the same statement.
WITH picked AS MATERIALIZED (
    SELECT job_id FROM jobs WHERE status = 'NEW' AND run_after <= :now
      AND (:service_types::text[] IS NULL OR service_type = ANY(:service_types::text[]))
    ORDER BY priority DESC, job_id LIMIT :limit
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE jobs
    SET status = 'RUNNING', attempt = attempt + 1, lease_token = :token_prefix || jobs.job_id,
        lease_owner = :owner, lease_expires_at = :expires_at, message_count = message_count + 1,
        version = version + 1
    FROM picked
    WHERE jobs.job_id = picked.job_id
    RETURNING jobs.job_id, attempt, lease_token, service_id, service_name, service_type,
              identity_domain, operation_type, parameters, domain_id, run_after, message_count
), started AS (
    INSERT INTO job_messages (job_id, position, activity_date, message)
    SELECT job_id, message_count, :now, :started_message FROM claimed
)
SELECT * FROM claimed ORDER BY job_id

-- name: lock_running_job
-- The job a worker holds, if it still holds it, and who asked to cancel it.
-- Locked until the transaction ends, so that a cancellation and the job's end take turns.
SELECT cancel_requested_by FROM jobs
WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'
FOR UPDATE

-- name: expired_leases
-- RUNNING jobs whose worker stopped renewing: it died, hung, or lost the database.
SELECT job_id, domain_id, attempt, max_attempts, backoff_ms, cancel_requested_by FROM jobs
WHERE status = 'RUNNING' AND lease_expires_at < :now
  AND lease_token <> ALL(:live_leases::text[])
ORDER BY job_id
FOR UPDATE SKIP LOCKED

-- name: lock_job_for_cancel
SELECT status, cancel_requested_by FROM jobs
WHERE job_id = :job_id AND domain_id = :domain_id
FOR UPDATE

-- name: recount_jobs
-- Fills job_counts from the jobs themselves, after rows were written with its trigger off (a
-- bulk load). Run it on an emptied job_counts.
-- One row per count (shard 0): only the sum over a count's shards means anything.
INSERT INTO job_counts (domain_id, status, service_type, shard, jobs)
SELECT domain_id, status, service_type, 0, count(*) FROM jobs
GROUP BY domain_id, status, service_type


-- The two statements below do in one round trip what the shared queries do in several, on the
-- engine's busiest paths (group commit, store/postgres_group_commit.py). A statement outside a
-- transaction block is a transaction of its own, so each commits once and sees one snapshot.
-- SQLite has no data-modifying WITH and no round trips to save (its statements run in the
-- writer thread), so it has no counterpart to these.

-- name: submit_creates_at_once
-- Creates without an Idempotency-Key, one or several (postgres_group_commit): their instances,
-- their jobs and each job's first message. The creates come as parallel arrays, and each answer
-- row carries its create's place in them (1, 2, ...). A live instance of a name already there
-- fails the instances' insert on the unique index service_instances_live_name (a concurrent
-- create of the same name waits there, then fails), and with it the whole statement: each
-- create of a failed group is then sent again alone, and only the one whose name is taken fails.
WITH input AS (
    SELECT * FROM unnest(
        :domain_ids::bigint[], :identity_domains::text[], :service_types::text[],
        :service_names::text[], :descriptions::text[], :parameters::text[],
        :operation_types::text[], :auth_domains::text[], :auth_users::text[],
        :initiated_by::text[], :max_attempts::int[], :backoffs_ms::bigint[]
    ) WITH ORDINALITY AS i(
        domain_id, identity_domain, service_type, service_name, description, parameters,
        operation_type, auth_domain, auth_user, initiated_by, max_attempts, backoff_ms, place
    )
), instance AS (
    INSERT INTO service_instances
        (domain_id, service_type, name, description, state, parameters, created_by, created_at,
         updated_at)
    SELECT domain_id, service_type, service_name, description, :state, parameters, auth_user,
           :now, :now
    FROM input ORDER BY place
    RETURNING service_id, domain_id, service_type, name
), placed AS (
    SELECT input.*, instance.service_id
    FROM input JOIN instance
      ON instance.domain_id = input.domain_id AND instance.service_type = input.service_type
     AND instance.name = input.service_name
), job AS (
    INSERT INTO jobs
        (activity_log_id, domain_id, identity_domain, service_id, service_name, service_type,
         operation_type, status, auth_domain, auth_user, initiated_by, parameters,
         previous_instance_state, start_date, run_after, max_attempts, backoff_ms,
         message_count)
    SELECT nextval('activity_log_id_seq'), domain_id, identity_domain, service_id, service_name,
           service_type, operation_type, 'NEW', auth_domain, auth_user, initiated_by, parameters,
           :state, :now, :now, max_attempts, backoff_ms, 1
    FROM placed ORDER BY place
    RETURNING job_id, activity_log_id, service_id
), submitted AS (
    INSERT INTO job_messages (job_id, position, activity_date, message)
    SELECT job_id, 1, :now, :message FROM job
)
SELECT placed.place, job.job_id, job.activity_log_id, job.service_id
FROM job JOIN placed ON placed.service_id = job.service_id

-- name: end_jobs_at_once
-- Workers' ends of their jobs, with their closing messages and their instances' new states,
-- for the jobs nobody asked to cancel: one statement for all the ends ready at once
-- (postgres_group_commit). The jobs' ends come as parallel arrays; the messages as three more,
-- each message's job and its place among that job's closing messages (1, 2, ...).
-- Jobs missing from the answer were not ended: the lease is lost, or a cancellation is
-- recorded; their callers take the long way (transactions.finish), which tells the two
-- apart. A cancellation racing this statement holds the job's row; the update waits for it,
-- then reads the row again and finds the request.
-- An instance state NULL keeps the state the instance had before the operation.
WITH input AS (
    SELECT * FROM unnest(
        :job_ids::bigint[], :tokens::text[], :statuses::text[], :counts::int[],
        :instance_states::text[]
    ) AS i(job_id, token, status, count, instance_state)
), ended AS (
    UPDATE jobs
    SET status = input.status, end_date = :now, lease_token = NULL, lease_owner = NULL,
        lease_expires_at = NULL, message_count = message_count + input.count,
        version = version + 1
    FROM input
    WHERE jobs.job_id = input.job_id AND jobs.lease_token = input.token
      AND jobs.status = 'RUNNING' AND jobs.cancel_requested_by IS NULL
    RETURNING jobs.job_id, jobs.message_count, jobs.service_id, jobs.previous_instance_state,
              input.count, input.instance_state
), closing AS (
    INSERT INTO job_messages (job_id, position, activity_date, message)
    SELECT ended.job_id, ended.message_count - ended.count + m.place, :now, m.message
    FROM unnest(:message_jobs::bigint[], :message_places::int[], :messages::text[])
        AS m(job_id, place, message)
    JOIN ended ON ended.job_id = m.job_id
), instance AS (
    UPDATE service_instances
    SET state = coalesce(ended.instance_state, ended.previous_instance_state), updated_at = :now
    FROM ended
    WHERE service_instances.service_id = ended.service_id
)
SELECT job_id FROM ended

-- name: claim_in_index_order
-- Before claim_jobs, in its transaction. A queue's statistics rarely say how many jobs wait,
-- and with bitmap scans allowed the planner read and sorted every NEW job to claim a few of
-- them: 1.8 ms a claim with a few thousand jobs waiting, against 0.5 ms walking the claim
-- index in order (EXPLAIN ANALYZE).
SET LOCAL enable_bitmapscan = off

-- name: messages_of_jobs
-- A page's messages in one statement: `= ANY` takes the id list as one array parameter.
SELECT job_id, activity_date, message FROM job_messages
WHERE job_id = ANY(:job_ids::bigint[]) ORDER BY job_id, position

-- name: notify
-- pg_notify rather than NOTIFY: one statement text whatever the channel. Inside a
-- transaction it is sent when, and only if, the transaction commits.
SELECT pg_notify(:channel, :payload)

-- name: try_rescuer_lock
-- Session-level: held until the rescuer's connection ends, so one process rescues at a time.
SELECT pg_try_advisory_lock(:key)

-- name: try_prune_lock
-- Transaction-level: one process prunes at a time, and the lock goes with the batch's commit,
-- so a pooled connection never keeps it ("alprune" in ASCII).
SELECT pg_try_advisory_xact_lock(27422302953369189)

-- name: delete_messages_of_jobs
DELETE FROM job_messages WHERE job_id = ANY(:job_ids::bigint[])

-- name: delete_idempotency_keys_of_jobs
DELETE FROM idempotency_keys WHERE job_id = ANY(:job_ids::bigint[])

-- name: delete_jobs
-- The job_counts trigger counts each deleted job out, in this transaction: counts stay exact.
DELETE FROM jobs WHERE job_id = ANY(:job_ids::bigint[])
