"""The layers of docs/architecture.md, enforced: who may import whom, and a lazy package root."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rt_notebook"

BASE = {"errors", "_version"}
ALLOWED: dict[str, set[str]] = {
    "wire": BASE | {"wire"},
    "analysis": BASE | {"wire", "analysis"},
    "kernel": BASE | {"wire", "analysis", "kernel", "hub.client"},
    "server": BASE | {"wire", "server", "hub.client"},
    "local": BASE | {"wire", "local"},
}
"""What each layer may import from rt_notebook (a package, or one module of it), besides the
local backend where it starts. ``hub.client`` is a backend (the Hub service's) the server
extension and the kernel relay use like OpenAI's."""

STARTS_LOCAL = {
    ("kernel/relay.py", "local_backend"),
    ("kernel/headless.py", "HeadlessSession._endpoint"),
    ("kernel/batch.py", "_shared_backend"),
    ("server/app.py", "RealtimeExtension.local_backend"),
    ("server/handlers.py", "LocalSessionsHandler.get"),
    ("hub/upstream.py", ""),
}
"""The only places outside ``local/`` (and the ``testing`` kit) that import the local backend:
where it is started, or its records are read."""


Found = Iterator[tuple[str, str, bool]]


def imports(path: Path) -> Found:
    """(imported module below rt_notebook, e.g. ``wire.sdp``; enclosing function; whether for
    type checking only)."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]

    def visit(
        node: ast.AST, where: list[str], typing_only: bool
    ) -> Iterator[tuple[str, str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from visit(child, [*where, child.name], typing_only)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from visit(child, where, True)
            elif isinstance(child, ast.ImportFrom):
                base = list(package[: len(package) - child.level + 1]) if child.level else []
                module = [*base, *(child.module or "").split(".")]
                names = [module] if child.module else [[*base, a.name] for a in child.names]
                for name in names:
                    if name[0] == "rt_notebook" and len(name) > 1:
                        yield ".".join(name[1:]), ".".join(where), typing_only
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    parts = alias.name.split(".")
                    if parts[0] == "rt_notebook" and len(parts) > 1:
                        yield ".".join(parts[1:]), ".".join(where), typing_only
            else:
                yield from visit(child, where, typing_only)

    yield from visit(tree, [], False)


def allowed(target: str, rules: set[str]) -> bool:
    return any(target == rule or target.startswith(rule + ".") for rule in rules)


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem == "plots")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    layer = relative.parts[0] if len(relative.parts) > 1 else "analysis"  # plots.py re-exports
    wrong = []
    for target, where, typing_only in imports(path):
        if allowed(target, {"local"}) and layer != "local":
            if not typing_only and (str(relative), where) not in STARTS_LOCAL:
                wrong.append(f"{target} (in {where or 'the module body'})")
        elif layer in ALLOWED and not allowed(target, ALLOWED[layer]) and not typing_only:
            wrong.append(target)
    assert wrong == [], f"{relative} ({layer}) must not import {wrong}: see docs/architecture.md"


def test_the_rule_sees_a_wrong_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "rt_notebook"
    (fake / "wire").mkdir(parents=True)
    (fake / "wire" / "bad.py").write_text(
        "from ..kernel.core import SessionCore\n"
        "def f():\n    from ..local.backend import LocalRealtime\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = list(imports(fake / "wire" / "bad.py"))
    assert found == [("kernel.core", "", False), ("local.backend", "f", False)]
    with pytest.raises(AssertionError, match="must not import"):
        test_imports_point_one_way(fake / "wire" / "bad.py")


def test_import_rt_notebook_is_lazy() -> None:
    heavy = ["pydantic", "openai", "numpy", "aiortc", "ipywidgets", "httpx", "websockets"]
    code = (
        "import sys, rt_notebook\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
        "rt_notebook.SessionConfigError, rt_notebook.RealtimeEvent\n"  # still reachable
        "print('pydantic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split("\n")
    assert out[:2] == ["[]", "True"]
