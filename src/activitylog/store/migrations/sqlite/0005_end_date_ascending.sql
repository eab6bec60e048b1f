-- Nothing to change on SQLite: PostgreSQL's 0005 adds an index for orderBy=endDate:asc, which
-- SQLite already reads from the index of 0003, backwards.
SELECT 1;
