-- job_counts sharded by the writing connection instead of by job id. With shards by job id,
-- concurrent submissions, claims and ends kept meeting on the same 16 rows, each waiting for
-- the other's commit to reach the disk: 0.5 ms per submission on average at 600 jobs/s
-- (pg_stat_statements, bench/engine_throughput.py). A connection now writes its own rows, so
-- two transactions wait for each other only when their backends' pids meet modulo 64.
-- A shard's count may go below zero (a job counted in on one connection, out on another);
-- only the sum over the shards means anything, and the readers sum.
CREATE OR REPLACE FUNCTION count_job(in_domain BIGINT, in_status TEXT, of_job BIGINT, delta INTEGER)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (domain_id, status, shard, jobs)
    VALUES (in_domain, in_status, pg_backend_pid() % 64, delta)
    ON CONFLICT (domain_id, status, shard) DO UPDATE SET jobs = job_counts.jobs + excluded.jobs;
END
$$;
