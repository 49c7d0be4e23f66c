"""Who may use a standalone local backend: which web pages (origins, hosts) and which key.

A browser sends any page's requests to a loopback port, so the origin is what keeps a page the
user merely visits out: by default only pages served from this machine (``localhost``,
``127.0.0.0/8``, ``[::1]``) are let in, plus the origins given with ``--allow-origin``.
Requests with no ``Origin`` (Python, curl, sidebands) are not from a page and pass. The
``Host`` check stops DNS rebinding (a foreign name resolved to 127.0.0.1 is still foreign).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_TOKEN_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, ``*.localhost`` or a loopback address."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]``, lower-cased; ``ValueError`` for anything else."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin like http://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{origin!r} is not an origin: no path, query or user, just host:port")
    port = f":{parts.port}" if parts.port else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host.lower()}{port}"


@dataclass(frozen=True)
class Access:
    """The standalone backend's door policy."""

    allow_origins: frozenset[str] = field(default_factory=frozenset)
    """Origins allowed besides loopback ones (normalized)."""
    api_key: str | None = None
    """When set, the one key (besides minted ``ek_`` keys where OpenAI takes them) accepted."""
    hosts: frozenset[str] = field(default_factory=frozenset)
    """Host names besides loopback ones that requests may address (e.g. ``--host``)."""

    @classmethod
    def create(
        cls, origins: Iterable[str] = (), api_key: str | None = None, host: str | None = None
    ) -> Access:
        """An access policy; origins are checked and normalized."""
        allowed = frozenset(normalize_origin(o) for o in origins)
        hosts = {urlsplit(o).hostname or "" for o in allowed}
        if host and host not in ("0.0.0.0", "::"):  # noqa: S104 (a name to compare, not bind)
            hosts.add(host.strip("[]").lower())
        return cls(allowed, api_key or None, frozenset(hosts - {""}))

    def origin_allowed(self, origin: str | None) -> bool:
        """Whether a request from this page origin (``None``: not a page) may proceed."""
        if origin is None:
            return True
        try:
            normalized = normalize_origin(origin)
        except ValueError:
            return False  # "null" (sandboxed frames, files) and anything malformed
        return normalized in self.allow_origins or is_loopback_host(urlsplit(normalized).hostname)

    def host_allowed(self, host: str) -> bool:
        """Whether the ``Host`` a request addressed is ours (not a rebound foreign name)."""
        name = urlsplit(f"//{host}").hostname or ""
        return is_loopback_host(name) or name in self.hosts

    def key_allowed(self, key: str) -> bool:
        """With ``api_key`` set, only that key; otherwise any non-empty key."""
        if self.api_key is None:
            return bool(key)
        return hmac.compare_digest(key.encode(), self.api_key.encode())


def requested_headers(value: str | None) -> str | None:
    """A preflight's ``Access-Control-Request-Headers`` if it is a valid header list."""
    if value is None or not value.strip():
        return None
    return value.strip() if _TOKEN_LIST.match(value.strip()) else None
