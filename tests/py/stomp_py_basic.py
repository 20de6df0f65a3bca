#!/usr/bin/env python3
"""Interop check with stomp.py (PyPI): connect with STOMP 1.2, subscribe,
send, receive the message with its headers intact, ACK it, disconnect.

Usage: stomp_py_basic.py HOST PORT. Exit 0 on success; otherwise prints
what went wrong and exits non-zero (2 = check failed, 3 = stomp.py missing).
"""

import sys
import threading
import time

try:
    import stomp
except ImportError:
    print("stomp.py is not installed: pip install stomp.py", file=sys.stderr)
    sys.exit(3)

TIMEOUT = 10.0


def fail(why):
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(2)


class Recorder(stomp.ConnectionListener):
    """Collects what the broker sends, for the main thread to wait on."""

    def __init__(self):
        self.cond = threading.Condition()
        self.connected = None
        self.messages = []
        self.receipts = set()
        self.errors = []

    def _add(self, fn):
        with self.cond:
            fn()
            self.cond.notify_all()

    def on_connected(self, frame):
        self._add(lambda: setattr(self, "connected", frame))

    def on_message(self, frame):
        self._add(lambda: self.messages.append(frame))

    def on_receipt(self, frame):
        self._add(lambda: self.receipts.add(frame.headers.get("receipt-id")))

    def on_error(self, frame):
        self._add(lambda: self.errors.append(frame))

    def wait(self, what, predicate):
        deadline = time.monotonic() + TIMEOUT
        with self.cond:
            while not predicate():
                if self.errors:
                    e = self.errors[0]
                    fail(f"broker sent ERROR while waiting for {what}: {e.headers} {e.body!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    fail(f"timed out waiting for {what}")
                self.cond.wait(left)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    host, port = sys.argv[1], int(sys.argv[2])
    rec = Recorder()
    conn = stomp.Connection12([(host, port)], heartbeats=(1000, 1000), reconnect_attempts_max=1)
    conn.set_listener("recorder", rec)
    conn.connect(wait=True, headers={"host": "/"})
    rec.wait("CONNECTED", lambda: rec.connected is not None)
    version = rec.connected.headers.get("version")
    if version != "1.2":
        fail(f"negotiated version {version!r}, expected '1.2'")
    print(f"connected: {rec.connected.headers}")

    destination = "/queue/stomp-py"
    conn.subscribe(destination, id="sub-1", ack="client-individual", headers={"receipt": "sub-r"})
    rec.wait("SUBSCRIBE receipt", lambda: "sub-r" in rec.receipts)

    sent = {
        "x-trace": "abc-123",
        "x-special": "colon:and\\backslash",
        "x-unicode": "h\u00e9llo \u2603",
    }
    body = "hello from stomp.py \u00e9"
    conn.send(destination, body, content_type="text/plain;charset=utf-8", headers=dict(sent, receipt="send-r"))
    rec.wait("SEND receipt", lambda: "send-r" in rec.receipts)
    rec.wait("MESSAGE", lambda: rec.messages)

    msg = rec.messages[0]
    print(f"received: {msg.headers} {msg.body!r}")
    h = msg.headers
    expected = dict(sent)
    expected.update({
        "destination": destination,
        "subscription": "sub-1",
        "content-type": "text/plain;charset=utf-8",
        "content-length": str(len(body.encode("utf-8"))),
    })
    for k, v in expected.items():
        if h.get(k) != v:
            fail(f"header {k}: got {h.get(k)!r}, expected {v!r}")
    for k in ("message-id", "ack"):
        if not h.get(k):
            fail(f"MESSAGE has no {k} header: {h}")
    if msg.body != body:
        fail(f"body {msg.body!r}, expected {body!r}")

    conn.ack(h["ack"], receipt="ack-r")
    rec.wait("ACK receipt", lambda: "ack-r" in rec.receipts)
    conn.disconnect(receipt="bye")
    if rec.errors:
        fail(f"ERROR frames: {[e.headers for e in rec.errors]}")
    if len(rec.messages) != 1:
        fail(f"expected exactly one MESSAGE, got {len(rec.messages)}")
    print("OK")


if __name__ == "__main__":
    main()
