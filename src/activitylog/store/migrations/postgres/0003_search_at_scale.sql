-- The filter at a million jobs (bench/filter_latency.py): its totalCount read from counts kept
-- per identity domain and status, instead of a count of every matching row, and indexes that
-- end in the job id, the tie-break of every order: the page then comes from the index in
-- order, and the rows a deep offset skips are read from the index alone, not the table.
-- On a database that already holds many jobs, this builds seven indexes and counts the jobs:
-- a few seconds per million jobs, during which writes to jobs wait.

-- Jobs per domain and status, kept by the trigger below in the writing transaction itself:
-- what the filter counts when it filters on nothing, or on status only. Derived data, rebuilt
-- by the query recount_jobs. Each count is split over 16 rows (by job id) so that concurrent
-- transactions seldom wait for one another's row.
CREATE TABLE job_counts (
    domain_id BIGINT NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    shard SMALLINT NOT NULL,
    jobs BIGINT NOT NULL,
    PRIMARY KEY (domain_id, status, shard)
);
INSERT INTO job_counts (domain_id, status, shard, jobs)
SELECT domain_id, status, job_id % 16, count(*) FROM jobs GROUP BY domain_id, status, job_id % 16;

CREATE FUNCTION count_job(in_domain BIGINT, in_status TEXT, of_job BIGINT, delta INTEGER)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (domain_id, status, shard, jobs)
    VALUES (in_domain, in_status, of_job % 16, delta)
    ON CONFLICT (domain_id, status, shard) DO UPDATE SET jobs = job_counts.jobs + excluded.jobs;
END
$$;

CREATE FUNCTION count_job_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM count_job(NEW.domain_id, NEW.status, NEW.job_id, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM count_job(OLD.domain_id, OLD.status, OLD.job_id, -1);
    ELSIF (OLD.domain_id, OLD.status) IS DISTINCT FROM (NEW.domain_id, NEW.status) THEN
        -- The two rows in one order, the statuses', so that two transactions moving jobs of
        -- one shard both ways (a claim, NEW to RUNNING; a requeue, RUNNING to NEW) cannot
        -- deadlock on them.
        IF (OLD.domain_id, OLD.status) < (NEW.domain_id, NEW.status) THEN
            PERFORM count_job(OLD.domain_id, OLD.status, OLD.job_id, -1);
            PERFORM count_job(NEW.domain_id, NEW.status, NEW.job_id, 1);
        ELSE
            PERFORM count_job(NEW.domain_id, NEW.status, NEW.job_id, 1);
            PERFORM count_job(OLD.domain_id, OLD.status, OLD.job_id, -1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_counts_follow_jobs
AFTER INSERT OR DELETE OR UPDATE OF domain_id, status ON jobs
FOR EACH ROW EXECUTE FUNCTION count_job_changes();

-- The filter indexes of 0001 again, each now ending in the job id.
DROP INDEX jobs_by_domain_start;
DROP INDEX jobs_by_service_name;
DROP INDEX jobs_by_service_type;
DROP INDEX jobs_by_status;
DROP INDEX jobs_by_operation_type;
CREATE INDEX jobs_by_domain_start ON jobs (domain_id, start_date, job_id);
CREATE INDEX jobs_by_service_name ON jobs (domain_id, service_name, start_date, job_id);
CREATE INDEX jobs_by_service_type ON jobs (domain_id, service_type, start_date, job_id);
CREATE INDEX jobs_by_status ON jobs (domain_id, status, start_date, job_id);
CREATE INDEX jobs_by_operation_type ON jobs (domain_id, operation_type, start_date, job_id);
-- orderBy=endDate:desc, running jobs (no end date) last.
CREATE INDEX jobs_by_end_date ON jobs (domain_id, end_date DESC NULLS LAST, job_id DESC);
-- orderBy=jobId, either way.
CREATE INDEX jobs_by_domain ON jobs (domain_id, job_id);
