#!/usr/bin/env python3
"""A tiny callback receiver for trying the service on a laptop.

Listens on 127.0.0.1:PORT (default 8085), prints each signed callback it receives, checks the
X-Approvals-Signature (HMAC-SHA256 over timestamp + "." + body) against SECRET, and answers 200.

    python3 scripts/callback-receiver.py 8085 my-callback-secret
"""
import hashlib
import hmac
import http.server
import json
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8085
SECRET = (sys.argv[2] if len(sys.argv) > 2 else "").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ts = self.headers.get("X-Approvals-Timestamp", "")
        sig = self.headers.get("X-Approvals-Signature", "")
        expected = "sha256=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        verdict = "valid" if SECRET and hmac.compare_digest(expected, sig) else "NOT VERIFIED"
        print(f"--- callback {self.path}  signature {verdict}  Idempotency-Key {self.headers.get('Idempotency-Key')}")
        try:
            print(json.dumps(json.loads(body), indent=2))
        except ValueError:
            print(body.decode(errors="replace"))
        sys.stdout.flush()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


print(f"callback receiver listening on http://127.0.0.1:{PORT}/", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
