"""A change request as an e-mail (RFC 5322, the standard library's ``email``), and sending
it through the SMTP server ``okectl.yaml`` names (``smtp:``).

The message is addressed to the supplier's support desk; its body is the request as text,
with ``request.json`` attached for a ticket system. Its Message-ID is the request's id, so
a resent request is recognisably the same message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import errors, policy
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

from okectl.config.models import SecretRef
from okectl.config.request_files import Event, RequestDocument
from okectl.config.settings import SmtpSettings
from okectl.errors import OkectlError, ValidationFailed
from okectl.files import read_regular
from okectl.model import clock
from okectl.requests.store import REQUEST_EML, StoredRequest, list_requests, write_status

# The sender when okectl.yaml names no smtp.from_address: a reserved domain, so the message
# says plainly that it was not meant to be sent as it is.
NO_SENDER = "okectl@sender-not-configured.invalid"
SUBJECT = {
    "nl": "[{id}] Wijzigingsverzoek OKE-configuratie {school} ({supplier})",
    "en": "[{id}] Change request for the OKE configuration of {school} ({supplier})",
}
MAX_MESSAGE_BYTES = 4 << 20


class SendFailed(OkectlError):
    """A change request could not be handed to the SMTP server."""


def build_message(
    document: RequestDocument, markdown: str, *, sender: str | None, cc: Sequence[str] = ()
) -> EmailMessage:
    from okectl.requests.writer import document_json, one_line

    if document.supplier.email is None:
        raise OkectlError(f"supplier {document.supplier.id}: no support.email to address the request to")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _address(sender or NO_SENDER, "smtp.from_address", document)
    msg["To"] = _address(document.supplier.email, "support.email", document)
    if cc:
        msg["Cc"] = ", ".join(_address(a, "api.settings.cc", document) for a in cc)
    # The supplier's name is YAML someone wrote: a line break in it would start a header
    # of its own (a Bcc), so the subject is one line whatever it holds.
    msg["Subject"] = one_line(
        SUBJECT[document.language].format(
            id=document.id, school=document.school.code, supplier=document.supplier.name
        )
    )
    domain = MailAddress(addr_spec=sender).domain if sender else NO_SENDER.split("@")[1]
    msg["Message-ID"] = f"<{document.id}@{domain}>"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["X-Okectl-Request"] = document.id
    msg.set_content(markdown, subtype="plain", charset="utf-8")
    msg.add_attachment(
        document_json(document).encode("utf-8"),
        maintype="application",
        subtype="json",
        filename="request.json",
    )
    return msg


def _address(text: str, setting: str, document: RequestDocument) -> str:
    """``text`` when it is one plain address (name@domain); a list, a display name or a
    line break would address the request to someone the setting does not name."""
    try:
        parsed = MailAddress(addr_spec=text).addr_spec
    except (ValueError, IndexError, errors.HeaderParseError, errors.InvalidHeaderDefect):
        parsed = None
    if parsed != text:
        raise OkectlError(
            f"supplier {document.supplier.id}: {setting} {text!r} is not one plain e-mail address "
            "(name@domain); nothing was written"
        )
    return text


def read_message(path: Path) -> EmailMessage:
    """A request's ``.eml``, parsed with the standard library (read as hostile input)."""
    raw = read_regular(path, what="a change request's e-mail", limit=MAX_MESSAGE_BYTES)
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


@dataclass(frozen=True)
class Sent:
    request: str
    recipients: tuple[str, ...]


def _context(smtp: SmtpSettings, root: Path) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if smtp.ca_file is not None:
        path = Path(smtp.ca_file)
        path = path if path.is_absolute() else root / path
        pem = read_regular(path, what="smtp.ca_file", limit=1 << 20)
        try:
            context = ssl.create_default_context(cadata=pem.decode("ascii"))
        except (UnicodeDecodeError, ssl.SSLError) as exc:
            raise OkectlError(f"smtp.ca_file {smtp.ca_file}: not PEM certificates ({exc})") from None
    return context


def send_messages(
    messages: Sequence[tuple[str, EmailMessage]],
    smtp: SmtpSettings,
    *,
    root: Path,
    resolve_secret: Callable[[SecretRef], str | None],
) -> list[Sent]:
    """Hand each (request id, message) to the SMTP server, in one connection. The server
    accepting a message is what is reported; delivery after that is the mail system's."""
    password = None
    if smtp.password is not None:
        password = resolve_secret(smtp.password)
        if password is None:
            raise SendFailed(f"smtp.password {smtp.password.describe()} is not set; nothing was sent")
    sent: list[Sent] = []
    try:
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=_context(smtp, root)
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=_context(smtp, root))
            if smtp.username is not None and password is not None:
                client.login(smtp.username, password)
            for rid, message in messages:
                if smtp.from_address and message["From"] != smtp.from_address:
                    message.replace_header("From", smtp.from_address)
                refused = client.send_message(message)
                recipients = [
                    a.addr_spec for h in ("To", "Cc") if message[h] is not None for a in message[h].addresses
                ]
                accepted = tuple(r for r in recipients if r not in refused)
                sent.append(Sent(rid, accepted))
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        done = f"; {len(sent)} sent before it ({', '.join(s.request for s in sent)})" if sent else ""
        # What the server said, never the password (smtplib does not echo it, and the
        # message below names only the server).
        raise SendFailed(
            f"smtp {smtp.host}:{smtp.port}: {type(exc).__name__}: {_reason(exc)}{done}"
        ) from None
    return sent


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {' '.join(text.split())[:200]}"
    return " ".join(str(exc).split())[:200]


def unsent_requests(root: Path, *, supplier: str | None = None) -> list[StoredRequest]:
    """Open requests whose e-mail was never handed to an SMTP server by okectl."""
    found, problems = list_requests(root, supplier=supplier)
    if problems:
        raise ValidationFailed(problems)
    return [
        r
        for r in sorted(found, key=lambda r: (r.status.requested_on, r.id))
        if r.status.status == "open" and not any(e.event == "sent" for e in r.status.history)
    ]


def send_requests(
    root: Path,
    requests: Sequence[StoredRequest],
    smtp: SmtpSettings | None,
    *,
    resolve_secret: Callable[[SecretRef], str | None],
    today: date | None = None,
) -> list[Sent]:
    """Send each request's ``request.eml`` and record it in the request's history. Only an
    open request is sent; nothing leaves the machine without smtp settings."""
    if smtp is None:
        raise SendFailed("okectl.yaml has no smtp: settings; nothing was sent (see docs/requests.md)")
    closed = [r.id for r in requests if r.status.status != "open"]
    if closed:
        raise SendFailed(f"only open requests are sent; not open: {', '.join(closed)}")
    messages = [(r.id, read_message(r.folder / REQUEST_EML)) for r in requests]
    sent = send_messages(messages, smtp, root=root, resolve_secret=resolve_secret)
    day = today or clock.today()
    by_id = {r.id: r for r in requests}
    for item in sent:
        status = by_id[item.request].status
        event = Event(date=day, event="sent", detail=f"to {', '.join(item.recipients) or 'nobody (refused)'}")
        write_status(root, status.model_copy(update={"history": [*status.history, event]}))
    return sent
