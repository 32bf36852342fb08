"""A real SMTP server on loopback (aiosmtpd) for the report, alert and fault tests: it
records every message, can require AUTH, can be stopped and started on the same port, and can
be slow to answer (a crash test aims at the moment a message is accepted but not yet
acknowledged)."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Received:
    messages: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)  # (from, to, data)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sender: str, recipients: list[str], data: bytes) -> None:
        with self.lock:
            self.messages.append((sender, tuple(recipients), data))


class _Handler:
    def __init__(self, received: Received, delay_s: float):
        self.received, self.delay_s = received, delay_s

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.received.add(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        await asyncio.sleep(self.delay_s)  # taken in, not yet acknowledged
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1, startable and stoppable on the same port (to test 'down then
    up'); with `users`, AUTH is required (over plain SMTP: loopback only); with `delay_s`,
    each message is recorded, then acknowledged that much later."""

    def __init__(self, users: dict[str, str] | None = None, delay_s: float = 0.0):
        self.port = free_port()
        self.received = Received()
        self.users = users
        self.delay_s = delay_s
        self._controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        kwargs: dict = {}
        if self.users is not None:
            users = self.users

            def authenticate(server, session, envelope, mechanism, auth_data):
                ok = getattr(auth_data, "login", b"").decode() in users and users[auth_data.login.decode()] == auth_data.password.decode()
                if ok:
                    self.received.logins.append(auth_data.login.decode())
                return AuthResult(success=ok)

            kwargs = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
        handler = _Handler(self.received, self.delay_s)
        self._controller = Controller(handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
