"""The one way sla-worker sends email (SPEC 2): SMTP with STARTTLS and authentication from
the settings, or — when SLA_SMTP_HOST is unset — `.eml` files written to `var/outbox/`.

Errors have kinds: a connection that fails, times out or drops, and 4xx replies, are
`TransientError` (try again later); 5xx replies (recipient refused, authentication failed)
are `PermanentError`. A server that cannot be reached at all (refused, unknown host, no answer
to the connection) is `SmtpUnreachable`, a `TransientError` the command line reports as exit 3
(SPEC 11: a server that cannot be reached) rather than as a failed send. Credentials are never sent over an unencrypted connection, except to a
server on this machine (loopback), and never appear in an error message.
"""

from __future__ import annotations

import ipaddress
import os
import re
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from worker.domain.errors import PermanentError, TransientError
from worker.settings import Settings

OUTBOX = Path("var/outbox")
TIMEOUT_S = 30.0


class SmtpUnreachable(TransientError):
    """No connection to the SMTP server could be opened (SLA_SMTP_HOST / SLA_SMTP_PORT)."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Deliver one message (addressed in its headers); return where it went."""
        ...


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpMailer:
    """SMTP submission (NHSmail: send.nhs.net, port 587, STARTTLS, the account's address and
    password). A new connection per message: monthly volumes are small and a long-lived
    connection would only add a way to fail."""

    def __init__(
        self,
        host: str,
        port: int = 587,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout_s: float = TIMEOUT_S,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.host, self.port, self.user, self.starttls, self.timeout_s = host, port, user, starttls, timeout_s
        self._password = password
        self._tls_context = tls_context
        self.unreachable: str | None = None  # why the last connection attempt failed, if it did

    def send(self, message: EmailMessage) -> str:
        if self.user and not self.starttls and not _is_loopback(self.host):
            raise PermanentError(
                f"refusing to send SMTP credentials to {self.host} without STARTTLS (set SLA_SMTP_STARTTLS=true)"
            )
        try:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        except OSError as error:  # refused, unknown host, no route, timed out: nobody answered
            self.unreachable = f"SMTP server {self.host}:{self.port} cannot be reached: {error.strerror or error}"
            raise SmtpUnreachable(self.unreachable) from None
        except smtplib.SMTPConnectError as error:  # answered, but not with a greeting
            kind = TransientError if 400 <= error.smtp_code < 500 else PermanentError
            raise kind(f"SMTP {self.host}:{self.port}: {error.smtp_code} refused the connection") from None
        except smtplib.SMTPException as error:  # dropped before the greeting
            raise TransientError(f"SMTP {self.host}:{self.port}: {type(error).__name__}: {error}") from None
        self.unreachable = None
        try:
            with connection as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self._tls_context or ssl.create_default_context())
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self._password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as error:
            raise PermanentError(f"SMTP {self.host}:{self.port}: authentication refused ({error.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            kind = TransientError if all(400 <= c < 500 for c in codes) else PermanentError
            raise kind(f"SMTP {self.host}:{self.port}: every recipient refused ({', '.join(map(str, codes))})") from None
        except smtplib.SMTPResponseException as error:
            kind = TransientError if 400 <= error.smtp_code < 500 else PermanentError
            text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
            raise kind(f"SMTP {self.host}:{self.port}: {error.smtp_code} {text}") from None
        except (smtplib.SMTPException, OSError) as error:  # refused, timed out, dropped, TLS failed
            raise TransientError(f"SMTP {self.host}:{self.port}: {type(error).__name__}: {error}") from None
        if refused:
            # Some recipients took it: sending again would duplicate it for them. Recorded as
            # sent; the refusals are reported.
            return f"smtp://{self.host}:{self.port} (refused: {', '.join(sorted(refused))})"
        return f"smtp://{self.host}:{self.port}"


class OutboxMailer:
    """Writes each message to `<directory>/<Message-ID>.eml` (atomically: a temporary file
    renamed into place). The same message written twice is one file."""

    def __init__(self, directory: Path = OUTBOX):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", (message["Message-ID"] or "message").strip("<>")) + ".eml"
        target = self.directory / name
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".sending-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(message.as_bytes())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return str(target)


def mailer_for(settings: Settings, outbox: Path = OUTBOX) -> Mailer:
    """SMTP when SLA_SMTP_HOST is set, else the outbox folder."""
    if not settings.smtp_host:
        return OutboxMailer(outbox)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_user or None,
        password,
        settings.smtp_starttls,
    )
