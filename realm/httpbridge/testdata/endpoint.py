# The Python endpoints of TestPythonEndpoints (standard library only):
#
#   PAWL_SECRET=... /usr/bin/python3 endpoint.py PORT_FILE
#
# Listens on a free loopback port and writes it to PORT_FILE. POST /events prints each
# forwarded event as a JSON line on stdout; POST /rpc serves com.example.py.* invocations.
# Requests without the router's X-Hub-Signature-256 get 401.
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["PAWL_SECRET"].encode()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", "")):
            self.send_response(401)
            self.end_headers()
            return
        data = json.loads(body)
        if self.path == "/events":
            print(json.dumps({"topic": self.headers["Pawl-Topic"], "args": data["args"], "kwargs": data["kwargs"]}), flush=True)
            self.send_response(204)
            self.end_headers()
            return
        if data["procedure"] == "com.example.py.upper":
            answer, status = {"args": [data["args"][0].upper()]}, 200
        else:
            answer, status = {"error": "com.example.error.unknown", "args": ["Python serves no " + data["procedure"]]}, 404
        out = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
