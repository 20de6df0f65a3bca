#!/usr/bin/env python3
"""Interop scenario for aiostomp (PyPI `aiostomp`, asyncio), pinned by
tests/setup.sh.

Usage: aiostomp_asyncio.py HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.1)

aiostomp always offers `accept-version:1.1` (no other version can be asked
for) and hands the program only MESSAGE and ERROR frames: CONNECTED and
RECEIPT frames are dropped, so the scenario is ordered by the connection
itself (the broker handles one connection's frames in order) and by the
MESSAGEs it waits for. It has no API for BEGIN/COMMIT/ABORT and closes
without DISCONNECT (see docs/interop.md). Exits non-zero with a message on
the first deviation; every wait is bounded.
"""

import sys

from asyncio_inbox import MISSING, Deviation, Inbox, check, require, run_main, step

EXPECTED_VERSION = "1.7.3"

try:
    from importlib.metadata import version as dist_version

    from aiostomp import AioStomp
except ImportError as e:
    print(f"FAIL: the aiostomp module is missing ({e}): run tests/setup.sh", file=sys.stderr)
    sys.exit(MISSING)


def text(body):
    return (body or b"").decode("utf-8")


class Scenario:
    def __init__(self, host, port, login, passcode):
        self.host, self.port, self.login, self.passcode = host, port, login, passcode
        self.queue = "/queue/interop.aiostomp.1.1"
        self.topic = "/topic/interop.aiostomp.1.1"
        self.inbox = Inbox()

    def client(self, on_error):
        # reconnect_max_attempts only bounds failed TCP connects: a close by
        # the broker always reconnects unless close() was called first.
        return AioStomp(self.host, self.port, reconnect_max_attempts=0, heartbeat=True,
                        heartbeat_interval_cx=1000, heartbeat_interval_cy=1000, error_handler=on_error)

    async def refused_login(self):
        step("a wrong passcode is refused with an ERROR")
        refused = Inbox()
        client = None

        async def on_error(error):
            # Closed at once, or aiostomp reconnects when the broker closes.
            client.close()
            refused.put("ERROR", error)

        client = self.client(on_error)
        await client.connect(self.login, "wrong-" + self.passcode)
        got, error = await refused.take(("ERROR",), 5.0)
        check(got == "ERROR", "no ERROR for CONNECT with a wrong passcode")
        check(str(error) == "authentication failed", f"unexpected refusal: {error} {error.detail!r}")

    async def message(self, what):
        frame, body = await self.inbox.expect("MESSAGE", what)
        return frame, body

    async def run(self):
        await self.refused_login()
        inbox = self.inbox

        async def on_error(error):
            inbox.put("ERROR", (str(error), error.detail))

        async def on_message(frame, body):
            inbox.put("MESSAGE", (frame, body))

        step(f"connect 1.1 as {self.login!r} with heart-beats 1000,1000")
        client = self.client(on_error)
        await client.connect(self.login, self.passcode)

        step(f"subscribe to {self.queue} (ack:client-individual) and {self.topic} (ack:auto)")
        client.subscribe(self.queue, ack="client-individual", handler=on_message, auto_ack=False)
        t_sub = client.subscribe(self.topic, ack="auto", handler=on_message)

        step("send to the topic with user headers and a content-type; receive them intact")
        tricky = "a:b\\c\nd"
        body = "héllo ✓"
        client.send(self.topic, body.encode("utf-8"),
                    headers={"content-type": "text/plain;charset=utf-8", "x-interop": "aiostomp",
                             "x-tricky": tricky})
        msg, got = await self.message("the topic message")
        h = msg.headers
        check(h.get("destination") == self.topic, f"destination {h.get('destination')!r}")
        check(h.get("subscription") == str(t_sub.id), f"subscription {h.get('subscription')!r}")
        check(h.get("message-id"), f"no message-id: {h}")
        check(h.get("x-interop") == "aiostomp", f"x-interop {h.get('x-interop')!r}")
        check(h.get("x-tricky") == tricky, f"x-tricky {h.get('x-tricky')!r}, expected {tricky!r}")
        check(h.get("content-type") == "text/plain;charset=utf-8", f"content-type {h.get('content-type')!r}")
        check(text(got) == body, f"body {got!r}, expected {body!r}")
        check("ack" not in h, f"1.1 MESSAGE carries a 1.2 ack header: {h}")

        step("send a binary body with NUL bytes; receive it byte for byte with content-length")
        payload = b"\x00bin\x00ary\x00" + bytes(range(256))
        client.send(self.queue, payload, headers={"content-type": "application/octet-stream"})
        first, got = await self.message("the binary message")
        check(got == payload, f"binary body differs: {got!r}")
        check(first.headers.get("content-length") == str(len(payload)),
              f"content-length {first.headers.get('content-length')!r}, expected {len(payload)}")
        check(first.headers.get("content-type") == "application/octet-stream",
              f"content-type {first.headers.get('content-type')!r}")
        check("redelivered" not in first.headers, f"first delivery flagged redelivered: {first.headers}")
        step("NACK it; it comes back with redelivered:true")
        client.nack(first)
        again, got = await self.message("the redelivered binary message")
        check(got == payload, "redelivered body differs")
        check(again.headers.get("redelivered") == "true",
              f"second delivery without redelivered:true: {again.headers}")
        check(again.headers.get("message-id") == first.headers.get("message-id"),
              "redelivery has a different message-id")
        step("ACK the redelivery")
        client.ack(again)

        step("unsubscribe from the topic; a later topic message is not delivered")
        client.unsubscribe(t_sub)
        client.send(self.topic, b"unheard")
        client.send(self.queue, b"fence")
        msg, got = await self.message("the queue message after unsubscribing the topic")
        check(text(got) == "fence", f"got {got!r} ({msg.headers}), expected 'fence'")
        client.ack(msg)
        await inbox.nothing(0.3, "nothing may follow the unsubscribe")

        step("stay idle for 3.5 s: the client's heart-beats keep the connection open")
        await inbox.nothing(3.5, "idle period")
        client.send(self.queue, b"still-here")
        msg, got = await self.message("the message sent after the idle period")
        check(text(got) == "still-here", f"got {got!r}, expected 'still-here'")
        client.ack(msg)
        # No DISCONNECT in aiostomp: close() closes the socket. A last MESSAGE
        # orders the ACK before it (the broker acts on one connection's frames in order).
        client.send(self.topic, b"unheard-too")
        client.send(self.queue, b"last")
        msg, got = await self.message("the last queue message")
        check(text(got) == "last", f"got {got!r}, expected 'last'")
        client.ack(msg)
        step("close (aiostomp sends no DISCONNECT)")
        client.close()


async def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    host, port, login, passcode, version = sys.argv[1:]
    installed = dist_version("aiostomp")
    print(f"aiostomp {installed} STOMP {version} against {host}:{port}", flush=True)
    require("aiostomp", installed, EXPECTED_VERSION)
    if version != "1.1":
        print(f"FAIL: aiostomp speaks STOMP 1.1 only, not {version!r}", file=sys.stderr)
        sys.exit(2)
    await Scenario(host, int(port), login, passcode).run()


if __name__ == "__main__":
    run_main("aiostomp 1.1", main)
