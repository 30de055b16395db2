-- MANUAL. Teardown: removes everything tunestream created in Snowflake, data included. There is
-- no undo beyond Time Travel (UNDROP DATABASE within the retention period). The lake on S3 is
-- not touched. The storage integration is account-level and may be shared: drop it by hand
-- (DROP INTEGRATION {{integration}}) once no stage uses it.
ALTER TASK IF EXISTS {{core}}.merge_root SUSPEND;
DROP DATABASE IF EXISTS {{database}};
