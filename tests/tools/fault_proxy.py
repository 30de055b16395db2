"""An HTTP proxy in front of moto that injects the failures moto never produces, for the
Firehose and Kinesis tests.

    fault_proxy.py LISTEN_PORT TARGET_URL

Every request is forwarded to TARGET_URL. For Firehose PutRecordBatch and Kinesis PutRecords,
the plan set with `POST /_fault` decides, record by record, which ones fail: those are left out
of the request moto sees, and the answer marks them failed at their index with the plan's error
code, so the server holds exactly the records reported as accepted. The plan (JSON, every key
optional):

    {"fail_every": N,          # every Nth record of every call fails (1-based count over the run)
     "fail_code": "ServiceUnavailableException",
     "throttle_calls": N,      # the next N calls fail whole with 400 ThrottlingException
     "down": true}             # answer nothing: close every connection at once

`GET /_fault` returns the plan and counters: requests refused while down, calls, records seen, records failed, calls
throttled, the most records and the most bytes in one call, and the largest record (bytes: data
decoded, plus the partition key).
"""

import base64
import http.client
import http.server
import json
import socketserver
import sys
import threading
import urllib.parse

LOCK = threading.Lock()
PLAN = {}
COUNTERS = {"refused": 0, "calls": 0, "records": 0, "failed": 0, "throttled": 0, "most_records": 0, "most_bytes": 0, "largest_record": 0}
TARGETS = {
    "Firehose_20150804.PutRecordBatch": ("Records", "RequestResponses", "FailedPutCount", "RecordId"),
    "Kinesis_20131202.PutRecords": ("Records", "Records", "FailedRecordCount", "SequenceNumber"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/x-amz-json-1.1"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_fault":
            with LOCK:
                return self.reply(200, json.dumps({"plan": PLAN, **COUNTERS}).encode(), "application/json")
        self.forward(b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/_fault":
            with LOCK:
                PLAN.clear()
                PLAN.update(json.loads(body or b"{}"))
            return self.reply(200, b"{}", "application/json")
        with LOCK:
            down = PLAN.get("down")
            if down:
                COUNTERS["refused"] += 1
        if down:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        target = TARGETS.get(self.headers.get("X-Amz-Target", ""))
        if target is None:
            return self.forward(body)
        self.put_records(body, *target)

    def put_records(self, body, field, answers, failed_count, id_field):
        request = json.loads(body)
        records = request[field]
        sizes = [len(base64.b64decode(r["Data"])) + len(r.get("PartitionKey", "").encode()) for r in records]
        with LOCK:
            COUNTERS["calls"] += 1
            COUNTERS["most_records"] = max(COUNTERS["most_records"], len(records))
            COUNTERS["most_bytes"] = max(COUNTERS["most_bytes"], sum(sizes))
            COUNTERS["largest_record"] = max([COUNTERS["largest_record"], *sizes])
            if PLAN.get("throttle_calls", 0) > 0:
                PLAN["throttle_calls"] -= 1
                COUNTERS["throttled"] += 1
                error = {"__type": "ThrottlingException", "message": "Rate exceeded (injected)"}
                return self.reply(400, json.dumps(error).encode())
            every, code = PLAN.get("fail_every", 0), PLAN.get("fail_code", "ServiceUnavailableException")
            failing = []
            for _ in records:
                COUNTERS["records"] += 1
                failing.append(every > 0 and COUNTERS["records"] % every == 0)
            COUNTERS["failed"] += sum(failing)
        kept = [r for r, fail in zip(records, failing) if not fail]
        if kept:
            status, headers, answer = self.send_upstream(json.dumps({**request, field: kept}).encode())
            if status != 200:
                return self.reply(status, answer)
            accepted = iter(json.loads(answer)[answers])
        else:
            accepted = iter(())
        results = [
            {"ErrorCode": code, "ErrorMessage": "injected by the test proxy"} if fail else next(accepted)
            for fail in failing
        ]
        self.reply(200, json.dumps({failed_count: sum(failing), answers: results, **(
            {"Encrypted": False} if answers == "RequestResponses" else {})}).encode())

    def forward(self, body):
        status, headers, answer = self.send_upstream(body)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def send_upstream(self, body):
        connection = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
        connection.request(self.command, self.path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        return response.status, response.getheaders(), answer


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    UPSTREAM = urllib.parse.urlparse(sys.argv[2])
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print("listening", flush=True)
    server.serve_forever()
