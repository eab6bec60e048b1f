-- The SQLite store's own queries: those that must differ from queries.sql, under the same
-- names, and those only SQLite needs.

-- name: next_activity_log_id
UPDATE id_sequences SET last_value = last_value + 1 WHERE name = 'activity_log'
RETURNING last_value

-- name: get_job
-- The job and, last, its messages as a JSON array of [activity_date, message]: one statement,
-- so one read sees one snapshot without BEGIN and COMMIT. json_group_array takes the rows in
-- the subquery's order: SQLite never flattens an ORDER BY subquery into an aggregate query.
SELECT activity_log_id, service_name, service_type, identity_domain, service_id, job_id,
       start_date, end_date, status, operation_type, auth_domain, auth_user, initiated_by,
       percent_complete, version,
       (SELECT json_group_array(json_array(activity_date, message))
        FROM (SELECT activity_date, message FROM job_messages m
              WHERE m.job_id = jobs.job_id ORDER BY m.position)) AS messages
FROM jobs WHERE job_id = :job_id AND domain_id = :domain_id

-- name: get_job_by_log_id
-- As get_job.
SELECT activity_log_id, service_name, service_type, identity_domain, service_id, job_id,
       start_date, end_date, status, operation_type, auth_domain, auth_user, initiated_by,
       percent_complete, version,
       (SELECT json_group_array(json_array(activity_date, message))
        FROM (SELECT activity_date, message FROM job_messages m
              WHERE m.job_id = jobs.job_id ORDER BY m.position)) AS messages
FROM jobs WHERE activity_log_id = :activity_log_id AND domain_id = :domain_id

-- name: claim_jobs
-- Up to :limit jobs in one statement, so a worker with free slots fills them in one commit.
-- Each attempt's token is the claim's random prefix and the job id: unique per attempt.
-- :service_types, a JSON array, limits the claim to the types the worker has handlers for.
UPDATE jobs
SET status = 'RUNNING', attempt = attempt + 1, lease_token = :token_prefix || job_id,
    lease_owner = :owner, lease_expires_at = :expires_at, message_count = message_count + 1,
    version = version + 1
WHERE job_id IN (
    SELECT job_id FROM jobs WHERE status = 'NEW' AND run_after <= :now
      AND (:service_types IS NULL OR service_type IN (SELECT value FROM json_each(:service_types)))
    ORDER BY priority DESC, job_id LIMIT :limit
)
RETURNING job_id, attempt, lease_token, service_id, service_name, service_type, identity_domain,
          operation_type, parameters, domain_id, run_after, message_count

-- name: recount_jobs
-- Fills job_counts from the jobs themselves, after rows were written with its triggers off (a
-- bulk load). Run it on an emptied job_counts.
INSERT INTO job_counts (domain_id, status, service_type, jobs)
SELECT domain_id, status, service_type, count(*) FROM jobs
GROUP BY domain_id, status, service_type

-- name: messages_of_jobs
-- A page's messages in one statement: :job_ids comes as a JSON array (the SQLite driver sends
-- every list parameter as JSON text).
SELECT job_id, activity_date, message FROM job_messages
WHERE job_id IN (SELECT value FROM json_each(:job_ids)) ORDER BY job_id, position
