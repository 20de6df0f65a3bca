#!/usr/bin/env python3
"""Interop scenario for stomp.py (PyPI `stomp.py`, pinned by tests/setup.sh).

Usage: stomp_py.py HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.0, 1.1 or 1.2)

Drives one connection of stomp.py's Connection10/11/12 class through the
interop scenario (see tests/interop.rs) and exits non-zero with a message on
the first deviation. Every wait is bounded.
"""

import sys
import threading
import time

TIMEOUT = 5.0
EXPECTED_VERSION = "9.0.0"

try:
    import stomp
except ImportError as e:
    print(f"FAIL: the stomp.py module is missing ({e}): run tests/setup.sh", file=sys.stderr)
    sys.exit(3)


class Deviation(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Deviation(what)


def step(text):
    print(f"  - {text}", flush=True)


class Probe(stomp.ConnectionListener):
    """Records every event stomp.py reports. A RECEIPT and the MESSAGE its SEND
    produced may arrive in either order, so waits pick the first event of the
    kind they want and leave the others; an ERROR fails any wait at once."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []
        self.heartbeats = 0

    def put(self, kind, frame):
        with self.cond:
            self.events.append((kind, frame))
            self.cond.notify_all()

    def on_connected(self, frame):
        self.put("CONNECTED", frame)

    def on_message(self, frame):
        self.put("MESSAGE", frame)

    def on_receipt(self, frame):
        self.put("RECEIPT", frame)

    def on_error(self, frame):
        self.put("ERROR", frame)

    def on_disconnected(self):
        self.put("DISCONNECTED", None)

    def on_heartbeat(self):
        with self.cond:
            self.heartbeats += 1

    def take(self, kinds, within):
        """The first recorded event whose kind is in `kinds`, or an ERROR; None on timeout."""
        deadline = time.monotonic() + within
        with self.cond:
            while True:
                for i, (kind, frame) in enumerate(self.events):
                    if kind in kinds or kind == "ERROR":
                        del self.events[i]
                        return kind, frame
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, None
                self.cond.wait(left)

    def expect(self, kind, what):
        got, frame = self.take((kind,), TIMEOUT)
        if got is None:
            raise Deviation(f"no {kind} within {TIMEOUT}s while waiting for {what}")
        if got != kind:
            detail = frame.headers if frame is not None else ""
            body = frame.body if frame is not None else ""
            raise Deviation(f"expected {kind} for {what}, got {got} {detail} {body!r}")
        return frame

    def receipt(self, rid):
        frame = self.expect("RECEIPT", f"receipt {rid}")
        check(frame.headers.get("receipt-id") == rid,
              f"receipt-id {frame.headers.get('receipt-id')!r}, expected {rid!r}")

    def message(self, what):
        return self.expect("MESSAGE", what)

    def nothing(self, within, what):
        got, frame = self.take(("CONNECTED", "MESSAGE", "RECEIPT", "DISCONNECTED"), within)
        if got is not None:
            detail = frame.headers if frame is not None else ""
            raise Deviation(f"unexpected {got} {detail} ({what})")


def text(frame):
    body = frame.body
    return body.decode("utf-8") if isinstance(body, bytes) else body


class Scenario:
    def __init__(self, host, port, login, passcode, version):
        self.version = version
        self.login, self.passcode = login, passcode
        self.host_and_ports = [(host, port)]
        self.queue = f"/queue/interop.stomp-py.{version}"
        self.topic = f"/topic/interop.stomp-py.{version}"
        self.probe = Probe()
        self.conn = None

    def connection(self, probe):
        common = dict(host_and_ports=self.host_and_ports, auto_decode=False,
                      reconnect_attempts_max=1, timeout=TIMEOUT)
        if self.version == "1.0":
            conn = stomp.Connection10(**common)
        elif self.version == "1.1":
            conn = stomp.Connection11(heartbeats=(1000, 1000), **common)
        else:
            conn = stomp.Connection12(heartbeats=(1000, 1000), **common)
        conn.set_listener("probe", probe)
        return conn

    def ack(self, frame, receipt):
        h = frame.headers
        if self.version == "1.2":
            self.conn.ack(h["ack"], receipt=receipt)
        elif self.version == "1.1":
            self.conn.ack(h["message-id"], h["subscription"], receipt=receipt)
        else:
            self.conn.ack(h["message-id"], receipt=receipt)
        self.probe.receipt(receipt)

    def run(self):
        self.refused_login()
        self.connect()
        self.subscribe()
        self.topic_message()
        self.binary_and_redelivery()
        self.transactions()
        self.unsubscribe()
        if self.version != "1.0":
            self.idle_on_heartbeats()
        self.disconnect()

    def refused_login(self):
        step("a wrong passcode is refused with an ERROR")
        probe = Probe()
        conn = self.connection(probe)
        conn.connect(self.login, "wrong-" + self.passcode, wait=False)
        frame = probe.expect("ERROR", "CONNECT with a wrong passcode")
        check(frame.headers.get("message") == "authentication failed", f"unexpected refusal: {frame.headers}")
        try:
            conn.disconnect()
        except Exception:
            pass

    def connect(self):
        beats = "" if self.version == "1.0" else " with heart-beats 1000,1000"
        step(f"connect {self.version} as {self.login!r}{beats}")
        self.conn = self.connection(self.probe)
        self.conn.connect(self.login, self.passcode, wait=False)
        frame = self.probe.expect("CONNECTED", "CONNECT")
        check(frame.headers.get("version", "1.0") == self.version,
              f"negotiated version {frame.headers.get('version')!r}, expected {self.version}")
        if self.version != "1.0":
            check(frame.headers.get("heart-beat") == "1000,1000",
                  f"CONNECTED heart-beat {frame.headers.get('heart-beat')!r}, expected '1000,1000'")

    def subscribe(self):
        ack = "client" if self.version == "1.0" else "client-individual"
        step(f"subscribe to {self.queue} (ack:{ack}) and {self.topic} (ack:auto), with receipts")
        self.conn.subscribe(self.queue, id="q", ack=ack, receipt="sub-q")
        self.probe.receipt("sub-q")
        self.conn.subscribe(self.topic, id="t", ack="auto", receipt="sub-t")
        self.probe.receipt("sub-t")

    def topic_message(self):
        step("send to the topic with a receipt, user headers and a content-type; receive them intact")
        # 1.0 has no header escaping, so only a colon (legal after the first one) is tested there.
        tricky = "a:b" if self.version == "1.0" else "a:b\\c\nd"
        body = "héllo ✓"
        self.conn.send(self.topic, body.encode("utf-8"), content_type="text/plain;charset=utf-8",
                       headers={"x-interop": "stomp.py", "x-tricky": tricky}, receipt="send-t")
        self.probe.receipt("send-t")
        msg = self.probe.message("the topic message")
        h = msg.headers
        check(h.get("destination") == self.topic, f"destination {h.get('destination')!r}")
        check(h.get("subscription") == "t", f"subscription {h.get('subscription')!r}, expected 't'")
        check("message-id" in h, f"no message-id: {h}")
        check(h.get("x-interop") == "stomp.py", f"x-interop {h.get('x-interop')!r}")
        check(h.get("x-tricky") == tricky, f"x-tricky {h.get('x-tricky')!r}, expected {tricky!r}")
        check(h.get("content-type") == "text/plain;charset=utf-8", f"content-type {h.get('content-type')!r}")
        check(text(msg) == body, f"body {msg.body!r}, expected {body!r}")
        check("ack" not in h, f"auto-ack MESSAGE carries an ack header: {h}")

    def binary_and_redelivery(self):
        step("send a binary body with NUL bytes; receive it byte for byte with content-length")
        payload = b"\x00bin\x00ary\x00" + bytes(range(256))
        self.conn.send(self.queue, payload, content_type="application/octet-stream", receipt="send-bin")
        self.probe.receipt("send-bin")
        first = self.probe.message("the binary message")
        check(first.body == payload, f"binary body differs: {first.body!r}")
        check(first.headers.get("content-length") == str(len(payload)),
              f"content-length {first.headers.get('content-length')!r}, expected {len(payload)}")
        check(first.headers.get("content-type") == "application/octet-stream",
              f"content-type {first.headers.get('content-type')!r}")
        check("redelivered" not in first.headers, f"first delivery flagged redelivered: {first.headers}")
        if self.version == "1.2":
            check(first.headers.get("ack"), f"1.2 client-individual MESSAGE without ack header: {first.headers}")
        if self.version == "1.0":
            step("1.0 has no NACK: unsubscribe without ACK and subscribe again for the redelivery")
            self.conn.unsubscribe(id="q", receipt="unsub-q")
            self.probe.receipt("unsub-q")
            self.conn.subscribe(self.queue, id="q2", ack="client", receipt="sub-q2")
            self.probe.receipt("sub-q2")
        else:
            step("NACK it; it comes back with redelivered:true")
            h = first.headers
            if self.version == "1.2":
                self.conn.nack(h["ack"], receipt="nack-bin")
            else:
                self.conn.nack(h["message-id"], h["subscription"], receipt="nack-bin")
            self.probe.receipt("nack-bin")
        again = self.probe.message("the redelivered binary message")
        check(again.body == payload, "redelivered body differs")
        check(again.headers.get("redelivered") == "true",
              f"second delivery without redelivered:true: {again.headers}")
        check(again.headers.get("message-id") == first.headers.get("message-id"),
              "redelivery has a different message-id")
        step("ACK the redelivery")
        self.ack(again, "ack-bin")

    def transactions(self):
        step("a transaction's SEND is held until COMMIT")
        self.conn.begin("tx-commit", receipt="begin-1")
        self.probe.receipt("begin-1")
        self.conn.send(self.queue, "committed", transaction="tx-commit", receipt="send-tx1")
        self.probe.receipt("send-tx1")
        self.conn.send(self.queue, "outside", receipt="send-outside")
        self.probe.receipt("send-outside")
        msg = self.probe.message("the message sent outside the transaction")
        check(text(msg) == "outside", f"got {text(msg)!r} before COMMIT, expected 'outside'")
        self.ack(msg, "ack-outside")
        self.conn.commit("tx-commit", receipt="commit-1")
        self.probe.receipt("commit-1")
        msg = self.probe.message("the committed message")
        check(text(msg) == "committed", f"got {text(msg)!r}, expected 'committed'")
        self.ack(msg, "ack-committed")
        step("an aborted transaction's SEND is never delivered")
        self.conn.begin("tx-abort", receipt="begin-2")
        self.probe.receipt("begin-2")
        self.conn.send(self.queue, "aborted", transaction="tx-abort", receipt="send-tx2")
        self.probe.receipt("send-tx2")
        self.conn.abort("tx-abort", receipt="abort-2")
        self.probe.receipt("abort-2")
        self.conn.send(self.queue, "after-abort", receipt="send-after")
        self.probe.receipt("send-after")
        msg = self.probe.message("the message sent after ABORT")
        check(text(msg) == "after-abort", f"got {text(msg)!r}, expected 'after-abort'")
        self.ack(msg, "ack-after")

    def unsubscribe(self):
        step("unsubscribe from the topic; a later topic message is not delivered")
        if self.version == "1.0":
            self.conn.unsubscribe(id="t", receipt="unsub-t")
        else:
            self.conn.unsubscribe("t", receipt="unsub-t")
        self.probe.receipt("unsub-t")
        self.conn.send(self.topic, "unheard", receipt="send-unheard")
        self.probe.receipt("send-unheard")
        self.conn.send(self.queue, "fence", receipt="send-fence")
        self.probe.receipt("send-fence")
        msg = self.probe.message("the queue message after unsubscribing the topic")
        check(text(msg) == "fence", f"got {text(msg)!r} ({msg.headers}), expected 'fence'")
        self.ack(msg, "ack-fence")
        self.probe.nothing(0.3, "nothing may follow the unsubscribe")

    def idle_on_heartbeats(self):
        step("stay idle for 3.5 s: heart-beats both ways keep the connection open")
        before = self.probe.heartbeats
        time.sleep(3.5)
        self.probe.nothing(0, "idle period")
        check(self.probe.heartbeats > before, "no heart-beat received from the broker while idle")
        self.conn.send(self.queue, "still-here", receipt="after-idle")
        self.probe.receipt("after-idle")
        msg = self.probe.message("the message sent after the idle period")
        self.ack(msg, "ack-idle")

    def disconnect(self):
        step("disconnect with a receipt")
        self.conn.disconnect(receipt="bye")
        self.probe.receipt("bye")


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    host, port, login, passcode, version = sys.argv[1:]
    print(f"stomp.py {stomp.__version__} STOMP {version} against {host}:{port}", flush=True)
    if stomp.__version__ != EXPECTED_VERSION:
        print(f"FAIL: stomp.py {stomp.__version__} installed, {EXPECTED_VERSION} expected: run tests/setup.sh",
              file=sys.stderr)
        sys.exit(3)
    if version not in ("1.0", "1.1", "1.2"):
        print(f"FAIL: unknown STOMP version {version!r}", file=sys.stderr)
        sys.exit(2)
    scenario = Scenario(host, int(port), login, passcode, version)
    try:
        scenario.run()
    except Deviation as e:
        print(f"FAIL: stomp-py {version}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"PASS stomp-py {version}", flush=True)


if __name__ == "__main__":
    main()
