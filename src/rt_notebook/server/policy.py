"""Server-side policy helpers: where the API key comes from, and the per-user rate limit."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from pathlib import Path

from ..errors import redacting_logger, register_secret

log = redacting_logger(__name__)


class ApiKeySource:
    """The current OpenAI key: from a file (re-read when it changes) or a fixed value."""

    def __init__(self, key: str | None, key_file: str | None) -> None:
        self._key = (key or "").strip() or None
        self._file = Path(key_file).expanduser() if key_file else None
        self._stamp: tuple[int, int] | None = None
        self._file_key: str | None = None
        self._warned = False

    def __call__(self) -> str | None:
        """The key to use now; a key file, when configured and readable, wins."""
        if self._file is not None:
            try:
                stat = self._file.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
                if stamp != self._stamp:
                    self._file_key = self._file.read_text().strip() or None
                    self._stamp, self._warned = stamp, False
            except OSError as exc:
                if not self._warned:
                    log.warning(
                        "rt_notebook: cannot read api_key_file %s: %s", self._file, exc.strerror
                    )
                self._stamp, self._file_key, self._warned = None, None, True
            if self._file_key:
                register_secret(self._file_key)
                return self._file_key
        register_secret(self._key)
        return self._key


class RateLimiter:
    """A sliding one-minute window of requests per user; ``limit`` 0 means unlimited."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)

    def check(self, user: str) -> float | None:
        """Record a request; return the seconds to wait when over the limit, else ``None``."""
        if self.limit <= 0:
            return None
        now = time.monotonic()
        hits = self._hits[user]
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return self.window - (now - hits[0])
        hits.append(now)
        return None
