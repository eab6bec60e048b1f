-- The console's Services page shows each instance's last operation: the newest job of the
-- instance, found with max(job_id) per service_id. Without this index that is a scan of every
-- job; with it, one step down the index per instance.
CREATE INDEX jobs_by_service ON jobs (service_id, job_id);
