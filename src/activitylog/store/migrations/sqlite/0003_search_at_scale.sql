-- The filter at a million jobs (bench/filter_latency.py): its totalCount read from counts kept
-- per identity domain and status, instead of a count of every matching row, and indexes for
-- the orders by end date and by job id. (The filter indexes of 0001 end, as every SQLite index
-- does, in the rowid: the job id. They already serve the default order with its tie-break.)
-- On a database that already holds many jobs this builds two indexes and counts the jobs:
-- about a second per million jobs.

-- Jobs per domain and status, kept by the triggers below in the writing transaction itself:
-- what the filter counts when it filters on nothing, or on status only. Derived data, rebuilt
-- by the query recount_jobs.
CREATE TABLE job_counts (
    domain_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    jobs INTEGER NOT NULL,
    PRIMARY KEY (domain_id, status)
) WITHOUT ROWID;
INSERT INTO job_counts (domain_id, status, jobs)
SELECT domain_id, status, count(*) FROM jobs GROUP BY domain_id, status;

CREATE TRIGGER job_counts_after_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_counts (domain_id, status, jobs) VALUES (NEW.domain_id, NEW.status, 1)
    ON CONFLICT (domain_id, status) DO UPDATE SET jobs = jobs + 1;
END;

CREATE TRIGGER job_counts_after_update AFTER UPDATE OF domain_id, status ON jobs
WHEN OLD.domain_id <> NEW.domain_id OR OLD.status <> NEW.status
BEGIN
    UPDATE job_counts SET jobs = jobs - 1
    WHERE domain_id = OLD.domain_id AND status = OLD.status;
    INSERT INTO job_counts (domain_id, status, jobs) VALUES (NEW.domain_id, NEW.status, 1)
    ON CONFLICT (domain_id, status) DO UPDATE SET jobs = jobs + 1;
END;

CREATE TRIGGER job_counts_after_delete AFTER DELETE ON jobs
BEGIN
    UPDATE job_counts SET jobs = jobs - 1
    WHERE domain_id = OLD.domain_id AND status = OLD.status;
END;

-- orderBy=endDate:desc, running jobs (no end date, the smallest value) last, read backwards.
CREATE INDEX jobs_by_end_date ON jobs (domain_id, end_date);
-- orderBy=jobId, either way.
CREATE INDEX jobs_by_domain ON jobs (domain_id);
