"""A loopback port that refuses connections, for tests of a server that cannot be reached."""

from __future__ import annotations

import socket

_held: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port that refuses every connection until this test process ends: bound, never
    listened on, and kept bound. A port bound and let go at once can be handed to the next server
    that asks for any port: the test's own (seen in CI: the "unreachable" channels posted to the
    test's receiver) or one of a test in another process (make test runs several)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _held.append(sock)
    return sock.getsockname()[1]
