-- PostgreSQL only: each statement here does in one round trip what postgres.sql does in
-- several, on the engine's busiest paths. A statement outside a transaction block is a
-- transaction of its own, so each of these commits once and sees one snapshot. SQLite has no
-- data-modifying WITH and no round trips to save (its statements run in the writer thread),
-- so it has no counterpart to these.

-- name: submit_creates_at_once
-- Creates without an Idempotency-Key, one or several (postgres_together): their instances,
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
-- (postgres_together). The jobs' ends come as parallel arrays; the messages as three more,
-- each message's job and its place among that job's closing messages (1, 2, ...).
-- Jobs missing from the answer were not ended: the lease is lost, or a cancellation is
-- recorded; their callers take the long way (postgres_jobs.finish), which tells the two
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
      AND jobs.status = 'RUNNING' AND jobs.lease_expires_at > :now
      AND jobs.cancel_requested_by IS NULL
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
