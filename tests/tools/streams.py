"""An independent Firehose and Kinesis client for the tests: boto3 against the loopback server in
TUNESTREAM_TEST_S3 (moto serves every service on one port). Prints JSON on stdout.

    streams.py firehose-create STREAM BUCKET   # a delivery stream writing to a new bucket
    streams.py firehose-records BUCKET         # every record delivered, parsed, in object order
    streams.py kinesis-create STREAM SHARDS
    streams.py kinesis-records STREAM          # every record: shard, partition key, parsed data
    streams.py fault PROXY_URL [PLAN_JSON]     # set the fault proxy's plan, or read its counters
"""

import json
import os
import sys
import urllib.request

import boto3


def client(service):
    return boto3.client(
        service,
        endpoint_url=os.environ["TUNESTREAM_TEST_S3"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def main(command, *args):
    if command == "firehose-create":
        stream, bucket = args
        client("s3").create_bucket(Bucket=bucket)
        client("firehose").create_delivery_stream(
            DeliveryStreamName=stream,
            ExtendedS3DestinationConfiguration={
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            },
        )
        return {}
    if command == "firehose-records":
        s3 = client("s3")
        records = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args[0]):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=args[0], Key=obj["Key"])["Body"].read().decode()
                assert body.endswith("\n"), "every record ends in a newline"
                records.extend(json.loads(line) for line in body.splitlines())
        return {"records": records}
    if command == "kinesis-create":
        stream, shards = args
        kinesis = client("kinesis")
        kinesis.create_stream(StreamName=stream, ShardCount=int(shards))
        kinesis.get_waiter("stream_exists").wait(StreamName=stream)
        return {}
    if command == "kinesis-records":
        kinesis = client("kinesis")
        records = []
        for shard in kinesis.list_shards(StreamName=args[0])["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=args[0], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
                for record in answer["Records"]:
                    records.append(
                        {"shard": shard["ShardId"], "key": record["PartitionKey"], "data": json.loads(record["Data"])}
                    )
                if not answer["Records"]:
                    break
                iterator = answer.get("NextShardIterator")
        return {"records": records}
    if command == "fault":
        url = args[0] + "/_fault"
        if len(args) > 1:
            request = urllib.request.Request(url, data=args[1].encode(), method="POST")
            urllib.request.urlopen(request).read()
        return json.loads(urllib.request.urlopen(url).read())
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
