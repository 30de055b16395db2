-- Access to the lake bucket through a storage integration: no AWS keys in any file.
-- Run as ACCOUNTADMIN (or a role with CREATE INTEGRATION). Safe to re-run: IF NOT EXISTS.
--
-- IAM steps, once per account:
--   1. In AWS, create a role ({{role_arn}}) with a policy that allows s3:GetObject and
--      s3:GetObjectVersion under each allowed location ({{allowed_locations}}), and
--      s3:ListBucket and s3:GetBucketLocation on the bucket (with an s3:prefix condition on those
--      prefixes). Start with a placeholder trust policy.
--   2. Run this file, then: DESC INTEGRATION {{integration}};
--      Copy STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID from its output.
--   3. Edit the role's trust policy: principal = that IAM user ARN, condition
--      sts:ExternalId = that external id. Nothing else needs the account's keys.
--   4. For Snowpipe auto-ingest, point the bucket's event notification (s3:ObjectCreated:*,
--      prefix = the lake prefix) at the SQS queue that SHOW PIPES lists as notification_channel
--      (all pipes of an account share one queue per region).
CREATE STORAGE INTEGRATION IF NOT EXISTS {{integration}}
  TYPE = EXTERNAL_STAGE
  STORAGE_PROVIDER = 'S3'
  ENABLED = TRUE
  STORAGE_AWS_ROLE_ARN = '{{role_arn}}'
  STORAGE_ALLOWED_LOCATIONS = ({{allowed_locations}});
