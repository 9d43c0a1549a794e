# The Python side of TestPythonClient: drives the bridge with requests (Debian
# python3-requests) and prints one JSON line per request: {"name", "status", "answer"}.
#
#   /usr/bin/python3 client.py BASE_URL KEY SECRET
import base64
import datetime
import hashlib
import hmac
import json
import secrets
import sys

import requests

base, key, secret = sys.argv[1:4]


def signed(body, key, secret, timestamp, nonce=None):
    nonce = nonce or str(secrets.randbelow(2**53))
    seq = "3"
    mac = hmac.new(secret.encode(), (key + timestamp + seq + nonce).encode() + body, hashlib.sha256)
    return {"key": key, "timestamp": timestamp, "seq": seq, "nonce": nonce,
            "signature": base64.urlsafe_b64encode(mac.digest()).decode()}


def report(name, r):
    print(json.dumps({"name": name, "status": r.status_code, "answer": r.json()}), flush=True)


def stamp(delta=datetime.timedelta()):
    return (datetime.datetime.now(datetime.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


headers = {"Content-Type": "application/json"}
body = json.dumps({"topic": "com.example.python", "args": ["from Python", 2**60], "kwargs": {"ok": True}}).encode()
params = signed(body, key, secret, stamp())
report("signed publish", requests.post(base + "/signed", params=params, data=body, headers=headers, timeout=10))
report("replayed publish", requests.post(base + "/signed", params=params, data=body, headers=headers, timeout=10))
report("stale publish", requests.post(base + "/signed", params=signed(body, key, secret, stamp(datetime.timedelta(hours=1))),
                                      data=body, headers=headers, timeout=10))
report("wrong secret", requests.post(base + "/signed", params=signed(body, key, "guess", stamp()), data=body, headers=headers, timeout=10))
report("unsigned", requests.post(base + "/signed", data=body, headers=headers, timeout=10))
report("call", requests.post(base + "/call", json={"procedure": "com.example.add2", "args": [20, 22]}, timeout=10))
report("call error", requests.post(base + "/call", json={"procedure": "com.example.fail"}, timeout=10))
report("call not authorized", requests.post(base + "/call", json={"procedure": "org.other.proc"}, timeout=10))
report("webhook", requests.post(base + "/hook", data={"order": "7", "paid": "yes"}, headers={"X-Shop": "python-test"}, timeout=10))
report("bad json", requests.post(base + "/publish", data=b'{"topic": ', headers=headers, timeout=10))
