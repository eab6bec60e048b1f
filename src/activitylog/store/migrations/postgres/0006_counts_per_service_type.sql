-- job_counts per service type too: a filter on service type (and status) then reads its
-- totalCount from these rows instead of counting its matches, 250,000 index entries and 19 ms
-- for one type of two at a million jobs (bench/filter_latency.py). Rebuilt from the jobs: a
-- few seconds per million, during which writes to jobs wait.
DROP TRIGGER job_counts_follow_jobs ON jobs;
DROP FUNCTION count_job_changes();
DROP FUNCTION count_job(BIGINT, TEXT, BIGINT, INTEGER);
DROP TABLE job_counts;

-- Spread over rows by writing connection (see 0004): only the sum over the shards means
-- anything, and a shard's count may go below zero.
CREATE TABLE job_counts (
    domain_id BIGINT NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    service_type TEXT COLLATE "C" NOT NULL,
    shard SMALLINT NOT NULL,
    jobs BIGINT NOT NULL,
    PRIMARY KEY (domain_id, status, service_type, shard)
);
INSERT INTO job_counts (domain_id, status, service_type, shard, jobs)
SELECT domain_id, status, service_type, 0, count(*) FROM jobs
GROUP BY domain_id, status, service_type;

CREATE FUNCTION count_job(in_domain BIGINT, in_status TEXT, in_type TEXT, delta INTEGER)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (domain_id, status, service_type, shard, jobs)
    VALUES (in_domain, in_status, in_type, pg_backend_pid() % 64, delta)
    ON CONFLICT (domain_id, status, service_type, shard)
    DO UPDATE SET jobs = job_counts.jobs + excluded.jobs;
END
$$;

CREATE FUNCTION count_job_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM count_job(NEW.domain_id, NEW.status, NEW.service_type, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM count_job(OLD.domain_id, OLD.status, OLD.service_type, -1);
    ELSIF (OLD.domain_id, OLD.status, OLD.service_type)
          IS DISTINCT FROM (NEW.domain_id, NEW.status, NEW.service_type) THEN
        -- The two rows in one order, so that two transactions moving jobs both ways (a claim,
        -- NEW to RUNNING; a requeue, RUNNING to NEW) cannot deadlock on them.
        IF (OLD.domain_id, OLD.status, OLD.service_type)
           < (NEW.domain_id, NEW.status, NEW.service_type) THEN
            PERFORM count_job(OLD.domain_id, OLD.status, OLD.service_type, -1);
            PERFORM count_job(NEW.domain_id, NEW.status, NEW.service_type, 1);
        ELSE
            PERFORM count_job(NEW.domain_id, NEW.status, NEW.service_type, 1);
            PERFORM count_job(OLD.domain_id, OLD.status, OLD.service_type, -1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_counts_follow_jobs
AFTER INSERT OR DELETE OR UPDATE OF domain_id, status, service_type ON jobs
FOR EACH ROW EXECUTE FUNCTION count_job_changes();
