-- Nothing to change on SQLite: PostgreSQL's 0004 spreads job_counts over its connections so
-- that concurrent writers do not wait for each other, and SQLite has a single writer.
SELECT 1;
