"""The identity of an OKE endpoint: two base URLs that reach the same place are one endpoint.

Production is decided by identity, not by name: an environment whose base URL is a
production environment's (of any school or supplier, declared in the repository or reported
by an administration API) is production, whatever the repository calls it. So the
comparison must see through every way of writing one URL: scheme and host case, the default
port, a trailing slash, percent-encoding, dot segments and internationalised host names.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 unreserved characters: percent-encoding them changes nothing.
_UNRESERVED = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _idna(host: str) -> str:
    host = unquote(host).rstrip(".").lower()
    if host.startswith("["):
        return host
    try:
        import idna

        return str(idna.encode(host, uts46=True).decode("ascii"))
    except (ImportError, UnicodeError, ValueError):
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return host


def _percent(segment: str) -> str:
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED_CHARS else "%" + match.group(1).upper()

    return _UNRESERVED.sub(fix, segment)


def _dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on whole segments."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment == ".":
            continue
        if segment == "..":
            if len(out) > 1:
                out.pop()
            continue
        out.append(segment)
    return "/".join(out)


def normalise_url(url: str) -> str:
    """The one spelling of a base URL: ``https://xn--bcher-kva.example/oke`` for
    ``HTTPS://Bücher.example:443/a/../oke/``."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _idna(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = _dot_segments("/".join(_percent(s) for s in parts.path.split("/"))).rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{host}{path}{query}"
