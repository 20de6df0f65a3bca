"""Shared by the asyncio interop programs (stompman, aiostomp): bounded waits
on what a client library hands the program, and the way a program fails.

A RECEIPT and the MESSAGE its SEND produced may arrive in either order, so
`take` picks the first event of the wanted kind and leaves the others; an
ERROR fails any wait at once.
"""

import asyncio
import sys
import time

TIMEOUT = 5.0

# Exit status for a missing library or a wrong version (see tests/interop.rs).
MISSING = 3


class Deviation(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Deviation(what)


def step(text):
    print(f"  - {text}", flush=True)


def require(module_name, installed, expected):
    """Exits MISSING unless the imported library is exactly `expected`."""
    if installed != expected:
        print(f"FAIL: {module_name} {installed} installed, {expected} expected: run tests/setup.sh",
              file=sys.stderr)
        sys.exit(MISSING)


class Inbox:
    """Events in arrival order, each a (kind, frame) pair."""

    def __init__(self):
        self.events = []
        self.changed = asyncio.Event()

    def put(self, kind, frame):
        self.events.append((kind, frame))
        self.changed.set()

    async def take(self, kinds, within):
        deadline = time.monotonic() + within
        while True:
            for i, (kind, frame) in enumerate(self.events):
                if kind in kinds or kind == "ERROR":
                    del self.events[i]
                    return kind, frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    async def expect(self, kind, what):
        got, frame = await self.take((kind,), TIMEOUT)
        if got is None:
            raise Deviation(f"no {kind} within {TIMEOUT}s while waiting for {what}")
        if got != kind:
            raise Deviation(f"expected {kind} for {what}, got {got} {frame!r}")
        return frame

    async def nothing(self, within, what):
        got, frame = await self.take(("MESSAGE", "RECEIPT", "CONNECTED", "CLOSED"), within)
        if got is not None:
            raise Deviation(f"unexpected {got} {frame!r} ({what})")


def run_main(name, scenario):
    """Runs the coroutine `scenario()` within 60 s and exits 0 with a PASS line, or 1."""
    async def bounded():
        await asyncio.wait_for(scenario(), 60)

    try:
        asyncio.run(bounded())
    except Deviation as e:
        print(f"FAIL: {name}: {e}", file=sys.stderr)
        sys.exit(1)
    except TimeoutError:
        print(f"FAIL: {name}: the scenario did not finish within 60 s", file=sys.stderr)
        sys.exit(1)
    print(f"PASS {name}", flush=True)
