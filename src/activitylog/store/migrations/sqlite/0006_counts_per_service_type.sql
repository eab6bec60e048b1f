-- job_counts per service type too: a filter on service type (and status) then reads its
-- totalCount from these rows instead of counting its matches (250,000 index entries for one
-- type of two at a million jobs, bench/filter_latency.py). Rebuilt from the jobs: about a
-- second per million.
DROP TRIGGER job_counts_after_insert;
DROP TRIGGER job_counts_after_update;
DROP TRIGGER job_counts_after_delete;
DROP TABLE job_counts;

CREATE TABLE job_counts (
    domain_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    service_type TEXT NOT NULL,
    jobs INTEGER NOT NULL,
    PRIMARY KEY (domain_id, status, service_type)
) WITHOUT ROWID;
INSERT INTO job_counts (domain_id, status, service_type, jobs)
SELECT domain_id, status, service_type, count(*) FROM jobs
GROUP BY domain_id, status, service_type;

CREATE TRIGGER job_counts_after_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_counts (domain_id, status, service_type, jobs)
    VALUES (NEW.domain_id, NEW.status, NEW.service_type, 1)
    ON CONFLICT (domain_id, status, service_type) DO UPDATE SET jobs = jobs + 1;
END;

CREATE TRIGGER job_counts_after_update AFTER UPDATE OF domain_id, status, service_type ON jobs
WHEN OLD.domain_id <> NEW.domain_id OR OLD.status <> NEW.status
  OR OLD.service_type <> NEW.service_type
BEGIN
    UPDATE job_counts SET jobs = jobs - 1
    WHERE domain_id = OLD.domain_id AND status = OLD.status
      AND service_type = OLD.service_type;
    INSERT INTO job_counts (domain_id, status, service_type, jobs)
    VALUES (NEW.domain_id, NEW.status, NEW.service_type, 1)
    ON CONFLICT (domain_id, status, service_type) DO UPDATE SET jobs = jobs + 1;
END;

CREATE TRIGGER job_counts_after_delete AFTER DELETE ON jobs
BEGIN
    UPDATE job_counts SET jobs = jobs - 1
    WHERE domain_id = OLD.domain_id AND status = OLD.status
      AND service_type = OLD.service_type;
END;
