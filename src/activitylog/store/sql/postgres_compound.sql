-- PostgreSQL only: each statement here does in one round trip what postgres.sql does in
-- several, on the engine's busiest paths. A statement outside a transaction block is a
-- transaction of its own, so each of these commits once and sees one snapshot. SQLite has no
-- data-modifying WITH and no round trips to save (its statements run in the writer thread),
-- so it has no counterpart to these.

-- name: submit_create
-- A create without an Idempotency-Key: its instance, its job and the job's first message.
-- A live instance of that name already there fails the instance's insert on the unique index
-- service_instances_live_name (a concurrent create of the same name waits there, then fails).
WITH instance AS (
    INSERT INTO service_instances
        (domain_id, service_type, name, description, state, parameters, created_by, created_at,
         updated_at)
    VALUES (:domain_id, :service_type, :service_name, :description, :state, :parameters,
            :auth_user, :now, :now)
    RETURNING service_id
), job AS (
    INSERT INTO jobs
        (activity_log_id, domain_id, identity_domain, service_id, service_name, service_type,
         operation_type, status, auth_domain, auth_user, initiated_by, parameters,
         previous_instance_state, start_date, run_after, max_attempts, backoff_ms,
         message_count)
    SELECT nextval('activity_log_id_seq'), :domain_id, :identity_domain, instance.service_id,
           :service_name, :service_type, :operation_type, 'NEW', :auth_domain, :auth_user,
           :initiated_by, :parameters, :state, :now, :now, :max_attempts, :backoff_ms, 1
    FROM instance
    RETURNING job_id, activity_log_id, service_id
), submitted AS (
    INSERT INTO job_messages (job_id, position, activity_date, message)
    SELECT job_id, 1, :now, :message FROM job
)
SELECT job_id, activity_log_id, service_id FROM job

-- name: end_job_at_once
-- The worker's end of its job, its closing messages and its instance's new state, when nobody
-- asked to cancel it. No row: the lease is lost, or a cancellation is recorded; the caller
-- then takes the long way (postgres_jobs.finish), which tells the two apart. A cancellation
-- racing this statement holds the job's row; the update waits for it, then reads the row
-- again and finds the request.
-- :instance_state NULL keeps the state the instance had before the operation.
WITH ended AS (
    UPDATE jobs
    SET status = :status, end_date = :now, lease_token = NULL, lease_owner = NULL,
        lease_expires_at = NULL, message_count = message_count + :count, version = version + 1
    WHERE job_id = :job_id AND lease_token = :token AND status = 'RUNNING'
      AND lease_expires_at > :now AND cancel_requested_by IS NULL
    RETURNING job_id, message_count, service_id, previous_instance_state
), closing AS (
    INSERT INTO job_messages (job_id, position, activity_date, message)
    SELECT ended.job_id, ended.message_count - :count + m.position, :now, m.message
    FROM ended, unnest(:messages::text[]) WITH ORDINALITY AS m(message, position)
), instance AS (
    UPDATE service_instances
    SET state = coalesce(:instance_state::text, ended.previous_instance_state), updated_at = :now
    FROM ended
    WHERE service_instances.service_id = ended.service_id
)
SELECT job_id FROM ended
