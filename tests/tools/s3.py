"""An independent S3 client for the tests: boto3 against the loopback S3 server in
TUNESTREAM_TEST_S3. Prints JSON on stdout.

    s3.py mkbucket BUCKET
    s3.py download BUCKET PREFIX DIR     # every object below PREFIX into DIR, keys relative
    s3.py keys BUCKET PREFIX             # keys below PREFIX, relative
    s3.py put BUCKET KEY FILE
    s3.py head BUCKET KEY                # ETag, size and the size of each part
    s3.py uploads BUCKET                 # multipart uploads not completed or aborted
    s3.py parts BUCKET KEY               # parts uploaded so far to KEY's open upload
"""

import json
import os
import pathlib
import sys

import boto3


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["TUNESTREAM_TEST_S3"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def main(command, *args):
    s3 = client()
    if command == "mkbucket":
        s3.create_bucket(Bucket=args[0])
        return {}
    if command == "download":
        bucket, prefix, out = args
        prefix = prefix.rstrip("/") + "/"
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix):]
                target = pathlib.Path(out, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                keys.append(relative)
        return {"keys": sorted(keys)}
    if command == "keys":
        bucket, prefix = args
        prefix = prefix.rstrip("/") + "/"
        keys = [
            obj["Key"][len(prefix):]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]
        return {"keys": sorted(keys)}
    if command == "put":
        bucket, key, path = args
        s3.put_object(Bucket=bucket, Key=key, Body=pathlib.Path(path).read_bytes())
        return {}
    if command == "head":
        bucket, key = args
        head = s3.head_object(Bucket=bucket, Key=key)
        etag = head["ETag"].strip('"')
        parts = int(etag.rsplit("-", 1)[1]) if "-" in etag else 1
        sizes = [
            s3.head_object(Bucket=bucket, Key=key, PartNumber=n)["ContentLength"] for n in range(1, parts + 1)
        ]
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return {"etag": etag, "size": head["ContentLength"], "part_sizes": sizes, "bytes_hex_prefix": body[:16].hex()}
    if command == "uploads":
        uploads = s3.list_multipart_uploads(Bucket=args[0]).get("Uploads", [])
        return {"uploads": [u["Key"] for u in uploads]}
    if command == "parts":
        bucket, key = args
        uploads = [u for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) if u["Key"] == key]
        parts = [
            p["Size"]
            for u in uploads
            for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=u["UploadId"]).get("Parts", [])
        ]
        return {"parts": parts}
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
