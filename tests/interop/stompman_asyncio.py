#!/usr/bin/env python3
"""Interop scenario for stompman (PyPI `stompman`, asyncio; the client behind
FastStream's STOMP support), pinned by tests/setup.sh.

Usage: stompman_asyncio.py HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.2)

stompman speaks STOMP 1.2 only (`Client.PROTOCOL_VERSION`), asks receipts
itself (SEND and SUBSCRIBE with `receipt_timeout`, DISCONNECT always) and
has none for ACK, NACK, UNSUBSCRIBE, BEGIN, COMMIT or ABORT: those are
ordered by the next receipted frame on the same connection. Exits non-zero
with a message on the first deviation; every wait is bounded.
"""

import asyncio
import sys
import time

from asyncio_inbox import MISSING, TIMEOUT, Deviation, Inbox, check, require, run_main, step

EXPECTED_VERSION = "3.16.0"

try:
    from importlib.metadata import version as dist_version

    import stompman
except ImportError as e:
    print(f"FAIL: the stompman module is missing ({e}): run tests/setup.sh", file=sys.stderr)
    sys.exit(MISSING)


class Aborted(Exception):
    """Raised inside a transaction's block so that stompman ABORTs it."""


def text(frame):
    return frame.body.decode("utf-8")


class Scenario:
    def __init__(self, host, port, login, passcode):
        self.host, self.port, self.login, self.passcode = host, port, login, passcode
        self.queue = "/queue/interop.stompman.1.2"
        self.topic = "/topic/interop.stompman.1.2"
        self.inbox = Inbox()

    def client(self, passcode, on_error_frame):
        server = stompman.ConnectionParameters(self.host, self.port, self.login, passcode)
        return stompman.Client(
            [server],
            heartbeat=stompman.Heartbeat(1000, 1000),
            on_error_frame=on_error_frame,
            connect_retry_attempts=1,
            connection_confirmation_timeout=int(TIMEOUT),
        )

    async def run(self):
        await self.refused_login()
        step("connect 1.2 as {!r} with heart-beats 1000,1000".format(self.login))
        client = self.client(self.passcode, lambda frame: self.inbox.put("ERROR", frame))
        async with client:
            state = client._connection_manager._active_connection_state
            check(state is not None, "no active connection after connecting")
            check(state.server_heartbeat == stompman.Heartbeat(1000, 1000),
                  f"CONNECTED heart-beat {state.server_heartbeat}, expected 1000,1000")
            await self.body(client, state)
            step("disconnect (stompman sends DISCONNECT with a receipt and waits for it)")

    async def refused_login(self):
        step("a wrong passcode is refused")
        client = self.client("wrong-" + self.passcode, None)
        try:
            async with client:
                raise Deviation("connected with a wrong passcode")
        except stompman.FailedAllConnectAttemptsError as e:
            # stompman waits for CONNECTED and drops what came instead when
            # the connection closes, so the broker's ERROR (checked from its
            # metrics by tests/interop.rs) shows here as ConnectionLostOnLifespanEnter.
            print(f"    refused: {e.issues}", flush=True)
            errors = [f for issue in e.issues for f in getattr(issue, "frames", [])
                      if isinstance(f, stompman.ErrorFrame)]
            for f in errors:
                check(f.headers.get("message") == "authentication failed", f"unexpected refusal: {f.headers}")

    async def body(self, client, state):
        inbox = self.inbox

        async def on_queue(frame):
            inbox.put("MESSAGE", frame)

        async def on_topic(frame):
            inbox.put("MESSAGE", frame)

        step(f"subscribe to {self.queue} (ack:client-individual) and {self.topic} (ack:auto), with receipts")
        q_sub = await client.subscribe_with_manual_ack(self.queue, on_queue, ack="client-individual",
                                                       receipt_timeout=TIMEOUT)
        t_sub = await client.subscribe(self.topic, on_topic, ack="auto", receipt_timeout=TIMEOUT,
                                       on_suppressed_exception=lambda e, f: inbox.put("ERROR", f))

        step("send to the topic with a receipt, user headers and a content-type; receive them intact")
        tricky = "a:b\\c\nd"
        body = "héllo ✓"
        await client.send(body.encode("utf-8"), self.topic, content_type="text/plain;charset=utf-8",
                          headers={"x-interop": "stompman", "x-tricky": tricky}, receipt_timeout=TIMEOUT)
        msg = await inbox.expect("MESSAGE", "the topic message")
        h = msg.headers
        check(h.get("destination") == self.topic, f"destination {h.get('destination')!r}")
        check(h.get("subscription") == t_sub.id, f"subscription {h.get('subscription')!r}, expected {t_sub.id!r}")
        check(h.get("message-id"), f"no message-id: {h}")
        check(h.get("x-interop") == "stompman", f"x-interop {h.get('x-interop')!r}")
        check(h.get("x-tricky") == tricky, f"x-tricky {h.get('x-tricky')!r}, expected {tricky!r}")
        check(h.get("content-type") == "text/plain;charset=utf-8", f"content-type {h.get('content-type')!r}")
        check(text(msg) == body, f"body {msg.body!r}, expected {body!r}")
        check("ack" not in h, f"auto-ack MESSAGE carries an ack header: {h}")

        step("send a binary body with NUL bytes; receive it byte for byte with content-length")
        payload = b"\x00bin\x00ary\x00" + bytes(range(256))
        await client.send(payload, self.queue, content_type="application/octet-stream", receipt_timeout=TIMEOUT)
        first = await inbox.expect("MESSAGE", "the binary message")
        check(first.body == payload, f"binary body differs: {first.body!r}")
        check(first.headers.get("content-length") == str(len(payload)),
              f"content-length {first.headers.get('content-length')!r}, expected {len(payload)}")
        check(first.headers.get("content-type") == "application/octet-stream",
              f"content-type {first.headers.get('content-type')!r}")
        check("redelivered" not in first.headers, f"first delivery flagged redelivered: {first.headers}")
        check(first.headers.get("ack"), f"client-individual MESSAGE without ack header: {first.headers}")
        step("NACK it; it comes back with redelivered:true")
        await first.nack()
        again = await inbox.expect("MESSAGE", "the redelivered binary message")
        check(again.body == payload, "redelivered body differs")
        check(again.headers.get("redelivered") == "true",
              f"second delivery without redelivered:true: {again.headers}")
        check(again.headers.get("message-id") == first.headers.get("message-id"),
              "redelivery has a different message-id")
        step("ACK the redelivery")
        await again.ack()

        step("a transaction's SEND is held until COMMIT")
        async with client.begin() as tx:
            await tx.send(b"committed", self.queue)
            await client.send(b"outside", self.queue, receipt_timeout=TIMEOUT)
            msg = await inbox.expect("MESSAGE", "the message sent outside the transaction")
            check(text(msg) == "outside", f"got {text(msg)!r} before COMMIT, expected 'outside'")
            await msg.ack()
        msg = await inbox.expect("MESSAGE", "the committed message")
        check(text(msg) == "committed", f"got {text(msg)!r}, expected 'committed'")
        await msg.ack()

        step("an aborted transaction's SEND is never delivered (an exception in the block ABORTs)")
        try:
            async with client.begin() as tx:
                await tx.send(b"aborted", self.queue)
                raise Aborted()
        except Aborted:
            pass
        await client.send(b"after-abort", self.queue, receipt_timeout=TIMEOUT)
        msg = await inbox.expect("MESSAGE", "the message sent after ABORT")
        check(text(msg) == "after-abort", f"got {text(msg)!r}, expected 'after-abort'")
        await msg.ack()

        step("unsubscribe from the topic; a later topic message is not delivered")
        await t_sub.unsubscribe()
        await client.send(b"unheard", self.topic, receipt_timeout=TIMEOUT)
        await client.send(b"fence", self.queue, receipt_timeout=TIMEOUT)
        msg = await inbox.expect("MESSAGE", "the queue message after unsubscribing the topic")
        check(text(msg) == "fence", f"got {text(msg)!r} ({msg.headers}), expected 'fence'")
        await msg.ack()
        await inbox.nothing(0.3, "nothing may follow the unsubscribe")

        step("stay idle for 3.5 s: heart-beats both ways keep the connection open")
        await inbox.nothing(3.5, "idle period")
        last_read = state.connection.last_read_time
        check(last_read is not None and time.time() - last_read < 1.5,
              f"no heart-beat read from the broker in the last 1.5 s of idling (last read {last_read})")
        check(client.is_alive(), "stompman reports the connection dead after idling")
        check(client._connection_manager._active_connection_state is state, "stompman reconnected while idle")
        await client.send(b"still-here", self.queue, receipt_timeout=TIMEOUT)
        msg = await inbox.expect("MESSAGE", "the message sent after the idle period")
        await msg.ack()
        # stompman's exit waits until no subscription is left.
        await q_sub.unsubscribe()


async def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    host, port, login, passcode, version = sys.argv[1:]
    installed = dist_version("stompman")
    print(f"stompman {installed} STOMP {version} against {host}:{port}", flush=True)
    require("stompman", installed, EXPECTED_VERSION)
    if version != "1.2":
        print(f"FAIL: stompman speaks STOMP 1.2 only, not {version!r}", file=sys.stderr)
        sys.exit(2)
    await Scenario(host, int(port), login, passcode).run()


if __name__ == "__main__":
    run_main("stompman 1.2", main)
