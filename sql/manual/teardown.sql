-- MANUAL. Teardown: removes everything tunestream created in Snowflake, data included. There is
-- no undo beyond Time Travel (UNDROP DATABASE within the retention period). The lake on S3 is
-- not touched. The storage integration is account-level and may be shared: drop it by hand
-- (DROP INTEGRATION {{integration}}) once no stage uses it.
--
-- Guarded: it drops only the database you name first, in the same session:
--   SET confirm_teardown = '{{database}}';
-- Without it the DROP fails on the unset variable, so running the whole rendered tree in
-- lexical order never tears anything down.
ALTER TASK IF EXISTS {{core}}.merge_root SUSPEND;
DROP DATABASE IF EXISTS IDENTIFIER($confirm_teardown);
