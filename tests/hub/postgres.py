"""A throwaway PostgreSQL server (Debian's binaries), on a Unix socket in a temporary dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def binaries() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Start a server in a fresh directory (one the ``postgres`` user may enter, unlike
    pytest's); yield its SQLAlchemy URL; stop it and remove the directory."""
    bin_dir = binaries()
    assert bin_dir is not None
    base = Path(tempfile.mkdtemp(prefix="rt-notebook-pg-"))
    data, sockets = base / "data", base / "sockets"
    for directory in (base, data, sockets):
        directory.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {sockets} -c listen_addresses='' -p 5432"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log")]
    subprocess.run(_as_postgres([*pg_ctl, "-o", options, "-w", "start"]), check=True)
    try:
        subprocess.run(
            _as_postgres([str(bin_dir / "createdb"), "-h", str(sockets), "-U", "postgres", "rt"]),
            check=True,
        )
        yield f"postgresql+psycopg://postgres@/rt?host={sockets}"
    finally:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "-w", "stop"]), check=False)
        shutil.rmtree(base, ignore_errors=True)
