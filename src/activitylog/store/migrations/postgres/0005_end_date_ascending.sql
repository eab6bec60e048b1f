-- orderBy=endDate:asc. The API puts running jobs (no end date) last in both directions, so the
-- index of 0003, which serves endDate:desc, serves the ascending order only with running jobs
-- first, and PostgreSQL sorted every job of the domain instead: 115 ms a page at a million
-- jobs (bench/filter_latency.py). SQLite reads its one index either way.
CREATE INDEX jobs_by_end_date_ascending ON jobs (domain_id, end_date ASC NULLS LAST, job_id ASC);
