#!/usr/bin/env python3
"""Interop scenario for stomp.py's WebSocket transport (PyPI `stomp.py`,
with its dependency `websocket-client`; pinned by tests/setup.sh) against
the broker's WebSocket listener at ws://HOST:PORT/ws.

Usage: stomp_py_ws.py HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.0, 1.1 or 1.2)

The same scenario as stomp_py.py (its Scenario class, imported), over
`stomp.WSConnection` for 1.2. stomp.py ships a WebSocket connection class for
1.2 only; for 1.1 and 1.0 its `WSTransport` is put under `Protocol11` and
`Protocol10` exactly as `WSConnection` does with `Protocol12`. Frames go out
as binary WebSocket messages (`binary_mode=True`): in the default text mode a
body that is not UTF-8 cannot be sent (see docs/interop.md).
"""

import sys

import stomp_py
from stomp_py import TIMEOUT, Deviation, Scenario, stomp

EXPECTED_WEBSOCKET_CLIENT = "1.9.2"

try:
    from importlib.metadata import version as dist_version

    from stomp.adapter.ws import WSTransport
    from stomp.connect import BaseConnection, StompConnection10, StompConnection11
    from stomp.protocol import Protocol10, Protocol11
except ImportError as e:
    print(f"FAIL: stomp.py's WebSocket transport is missing ({e}): run tests/setup.sh", file=sys.stderr)
    sys.exit(3)


def transport(host_and_ports):
    return WSTransport(host_and_ports, reconnect_attempts_max=1, timeout=TIMEOUT, auto_decode=False,
                       ws_path="/ws", binary_mode=True)


class WSConnection11(StompConnection11):
    """stomp.py's Connection11 over its WebSocket transport."""

    def __init__(self, host_and_ports, heartbeats):
        t = transport(host_and_ports)
        BaseConnection.__init__(self, t)
        Protocol11.__init__(self, t, heartbeats)


class WSConnection10(StompConnection10):
    """stomp.py's Connection10 over its WebSocket transport."""

    def __init__(self, host_and_ports):
        t = transport(host_and_ports)
        BaseConnection.__init__(self, t)
        Protocol10.__init__(self, t)


class WSScenario(Scenario):
    def __init__(self, *args):
        super().__init__(*args)
        self.queue = f"/queue/interop.stomp-py-ws.{self.version}"
        self.topic = f"/topic/interop.stomp-py-ws.{self.version}"

    def connection(self, probe):
        hosts = self.host_and_ports
        if self.version == "1.0":
            conn = WSConnection10(hosts)
        elif self.version == "1.1":
            conn = WSConnection11(hosts, (1000, 1000))
        else:
            conn = stomp.WSConnection(hosts, heartbeats=(1000, 1000), reconnect_attempts_max=1, timeout=TIMEOUT,
                                      auto_decode=False, ws_path="/ws", binary_mode=True)
        conn.set_listener("probe", probe)
        return conn


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    host, port, login, passcode, version = sys.argv[1:]
    ws_client = dist_version("websocket-client")
    print(f"stomp.py {stomp.__version__} (websocket-client {ws_client}) STOMP {version} over WebSocket "
          f"against ws://{host}:{port}/ws", flush=True)
    if stomp.__version__ != stomp_py.EXPECTED_VERSION or ws_client != EXPECTED_WEBSOCKET_CLIENT:
        print(f"FAIL: stomp.py {stomp.__version__} + websocket-client {ws_client} installed, "
              f"{stomp_py.EXPECTED_VERSION} + {EXPECTED_WEBSOCKET_CLIENT} expected: run tests/setup.sh",
              file=sys.stderr)
        sys.exit(3)
    if version not in ("1.0", "1.1", "1.2"):
        print(f"FAIL: unknown STOMP version {version!r}", file=sys.stderr)
        sys.exit(2)
    try:
        WSScenario(host, int(port), login, passcode, version).run()
    except Deviation as e:
        print(f"FAIL: stomp-py-ws {version}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"PASS stomp-py-ws {version}", flush=True)


if __name__ == "__main__":
    main()
