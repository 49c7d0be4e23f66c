"""The built wheel ships the JS bundle and enables the server extension on install."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import rt_notebook

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def clean_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ``git clone`` of this checkout (no node_modules, no built JS), with the
    uncommitted changes to tracked files committed on top so the test sees what is edited."""
    clone = tmp_path_factory.mktemp("clone") / "rt_notebook"
    git("clone", "-q", str(ROOT), str(clone), cwd=ROOT)
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--binary"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    if diff:
        subprocess.run(["git", "apply"], cwd=clone, input=diff, check=True)
        ident = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
        git(*ident, "commit", "-q", "-am", "uncommitted changes", cwd=clone)
    assert git("status", "--porcelain", cwd=clone) == ""
    return clone


@pytest.fixture(scope="module")
def wheel(clean_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel as a user builds it: from a clean clone, so the build hook installs the npm
    dependencies and bundles the JS itself."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(clean_clone)],
        check=True,
    )
    (built,) = out.glob("rt_notebook-*.whl")
    return built


def test_building_leaves_the_checkout_clean(wheel: Path, clean_clone: Path) -> None:
    """The build hook may add ignored files (node_modules, the bundle) but never rewrites a
    tracked one such as package-lock.json."""
    assert (clean_clone / "node_modules").is_dir()  # the hook did install
    assert git("status", "--porcelain", cwd=clean_clone) == ""


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    version = rt_notebook.__version__
    assert "rt_notebook/static/widget.js" in names
    assert "rt_notebook/static/widget.css" in names
    assert "rt_notebook/py.typed" in names
    assert (
        f"rt_notebook-{version}.data/data/etc/jupyter/jupyter_server_config.d/rt_notebook.json"
        in names
    )
    assert not [n for n in names if n.endswith((".ts", ".wav", ".key"))]
    assert wheel.stat().st_size < 1_000_000


def test_installed_wheel_enables_the_extension(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel into a fresh virtualenv (borrowing our dependencies) and list."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    (site,) = venv.glob("lib/python*/site-packages")
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir())
    (site / "borrowed_deps.pth").write_text(f"{deps}\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--ignore-installed",
            "-q",
            "--prefix",
            str(venv),
            str(wheel),
        ],
        check=True,
    )
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "user-config")}
    env.pop("JUPYTER_CONFIG_PATH", None)
    listing = subprocess.run(
        [str(python), "-m", "jupyter_server.extension.serverextension", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    sections = out.split("Config dir: ")
    (ours,) = [s for s in sections if s.startswith(str(venv / "etc" / "jupyter"))]
    assert "rt_notebook enabled" in ours
    assert f"rt_notebook {rt_notebook.__version__} OK" in ours
    assert (site / "rt_notebook" / "static" / "widget.js").is_file()
