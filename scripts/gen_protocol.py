"""Write js/generated/protocol.ts and the tables of docs/widget-protocol.md from the schema.

The schema is ``rt_notebook.wire.widget_protocol``. ``--check`` writes nothing and exits 1
when a generated file is not current (tests/test_protocol_schema.py runs it).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

from typing_extensions import NotRequired, TypeAliasType, get_type_hints, is_typeddict

from rt_notebook.wire import widget_protocol as schema

ROOT = Path(__file__).resolve().parents[1]
TS_FILE = ROOT / "js" / "generated" / "protocol.ts"
DOC_FILE = ROOT / "docs" / "widget-protocol.md"
SCHEMA_PATH = "src/rt_notebook/wire/widget_protocol.py"
WIDTH = 100

# ---- reading the schema ----------------------------------------------------------------


def alias_docs() -> dict[str, str]:
    """The docstring under each module-level assignment of the schema."""
    tree = ast.parse(Path(schema.__file__).read_text())
    docs: dict[str, str] = {}
    for node, after in zip(tree.body, tree.body[1:], strict=False):
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name):
                docs[target.id] = inspect.cleandoc(after.value.value)
    return docs


def one_line(doc: str | None) -> str:
    return " ".join(inspect.cleandoc(doc or "").split())


def fields(shape: Any) -> list[tuple[str, Any, bool]]:
    """``(name, type, required)`` of a TypedDict, inherited keys first."""
    hints = get_type_hints(shape, include_extras=True)
    out = []
    for name, tp in hints.items():
        required = name in shape.__required_keys__
        if get_origin(tp) is NotRequired:
            tp, required = get_args(tp)[0], False
        out.append((name, tp, required))
    return out


def declared() -> list[tuple[str, Any]]:
    """The schema's named types (aliases and TypedDicts), in the order the module defines them."""
    return [
        (name, value)
        for name, value in vars(schema).items()
        if isinstance(value, TypeAliasType)
        or (is_typeddict(value) and value.__module__ == schema.__name__)
    ]


# ---- TypeScript spelling ---------------------------------------------------------------


def ts(tp: Any, *, expand_literals: bool = False) -> str:
    """``tp`` in TypeScript; named types by name (literal aliases spelled out if asked)."""
    if isinstance(tp, TypeAliasType):
        if expand_literals and schema.literal_values(tp):
            return ts(tp.__value__, expand_literals=True)
        return tp.__name__
    if is_typeddict(tp):
        return tp.__name__
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return " | ".join(json.dumps(value) for value in args)
    if origin in (Union, UnionType):
        return " | ".join(ts(arg, expand_literals=expand_literals) for arg in args)
    if origin is list:
        item = ts(args[0], expand_literals=expand_literals)
        return f"({item})[]" if " | " in item else f"{item}[]"
    if origin is dict:
        return f"Record<string, {ts(args[1])}>"
    simple = {str: "string", int: "number", float: "number", bool: "boolean", NoneType: "null"}
    if tp is Any:
        return "unknown"
    if tp in simple:
        return simple[tp]
    raise TypeError(f"no TypeScript spelling for {tp!r}")


def jsdoc(doc: str, indent: str = "") -> list[str]:
    text = one_line(doc)
    if not text:
        return []
    if len(indent) + len(text) + 7 <= WIDTH:
        return [f"{indent}/** {text} */"]
    lines = textwrap.wrap(text, WIDTH - len(indent) - 3)
    return [f"{indent}/**", *(f"{indent} * {line}" for line in lines), f"{indent} */"]


def type_alias(name: str, body: str) -> list[str]:
    line = f"export type {name} = {body};"
    if len(line) <= WIDTH:
        return [line]
    *first, last = body.split(" | ")
    return [f"export type {name} =", *(f"  | {part}" for part in first), f"  | {last};"]


def object_type(name: str, members: list[tuple[str, str, bool, str]]) -> list[str]:
    """An object type alias (not an interface: plain objects must stay assignable to
    ``Record<string, unknown>``)."""
    lines = [f"export type {name} = {{"]
    for key, tp, required, doc in members:
        lines += jsdoc(doc, "  ")
        lines.append(f"  {key}{'' if required else '?'}: {tp};")
    return [*lines, "};"]


def typescript() -> str:
    docs = alias_docs()
    out = [
        f"// Generated from {SCHEMA_PATH} by scripts/gen_protocol.py: do not edit.",
        "// The widget ⇄ kernel protocol and the server's bodies: see docs/widget-protocol.md.",
    ]
    for name, value in declared():
        out.append("")
        if isinstance(value, TypeAliasType):
            out += jsdoc(docs.get(name, ""))
            out += type_alias(name, schema.TS_SPELLINGS.get(value) or ts(value.__value__))
        else:
            out += jsdoc(value.__doc__)
            members = [(key, ts(tp), required, "") for key, tp, required in fields(value)]
            out += object_type(name, members)
    traits = [(t.name, ts(t.type), True, f"{t.doc}; written by {t.writer}.") for t in schema.TRAITS]
    out += ["", "/** The widget's synced traits (snake_case on both sides). */"]
    out += object_type("WidgetModel", traits)
    return "\n".join(out) + "\n"


# ---- the docs' tables ------------------------------------------------------------------


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def code(text: str) -> str:
    return cell(f"`{text}`")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def field_list(shape: Any, skip: tuple[str, ...] = ("kind",)) -> str:
    parts = [
        code(f"{key}{'' if required else '?'}: {ts(tp, expand_literals=True)}")
        for key, tp, required in fields(shape)
        if key not in skip
    ]
    return ", ".join(parts) or "—"


def doc_tables() -> dict[str, str]:
    docs = alias_docs()
    traits = table(
        ["trait", "type", "default", "written by", "meaning"],
        [
            [
                code(t.name),
                code(ts(t.type, expand_literals=True)),
                code(json.dumps(t.default)),
                t.writer,
                cell(t.doc),
            ]
            for t in schema.TRAITS
        ],
    )

    def messages(union: Any) -> str:
        return table(
            ["kind", "fields", "meaning"],
            [
                [
                    code(get_args(get_type_hints(m)["kind"])[0]),
                    field_list(m),
                    cell(one_line(m.__doc__)),
                ]
                for m in schema.union_members(union)
            ],
        )

    messages_ = {
        *schema.union_members(schema.KernelMessage),
        *schema.union_members(schema.WidgetMessage),
    }

    def shown(value: Any) -> bool:
        if isinstance(value, TypeAliasType):
            return not set(schema.union_members(value)) <= messages_
        return value not in messages_ and value not in schema.REST_BODIES

    def definition(value: Any) -> str:
        if isinstance(value, TypeAliasType):
            return code(schema.TS_SPELLINGS.get(value) or ts(value.__value__))
        return field_list(value, skip=())

    def meaning(name: str, value: Any) -> str:
        return cell(one_line(docs.get(name) if isinstance(value, TypeAliasType) else value.__doc__))

    shapes = table(
        ["type", "definition", "meaning"],
        [
            [code(name), definition(value), meaning(name, value)]
            for name, value in declared()
            if shown(value)
        ],
    )
    rest = table(
        ["body", "fields", "meaning"],
        [
            [code(b.__name__), field_list(b, skip=()), cell(one_line(b.__doc__))]
            for b in schema.REST_BODIES
        ],
    )
    return {
        "traits": traits,
        "kernel-messages": messages(schema.KernelMessage),
        "widget-messages": messages(schema.WidgetMessage),
        "shapes": shapes,
        "rest": rest,
    }


def with_tables(text: str) -> str:
    for name, body in doc_tables().items():
        pattern = re.compile(
            rf"(<!-- generated:{name} -->\n)(?:(?!<!--).)*?(<!-- end generated -->)",
            flags=re.DOTALL,
        )
        if not pattern.search(text):
            raise SystemExit(f"{DOC_FILE}: no <!-- generated:{name} --> block")
        text = pattern.sub(lambda m, body=body: f"{m.group(1)}{body}\n{m.group(2)}", text)
    return text


def main(argv: list[str]) -> int:
    outputs = {TS_FILE: typescript(), DOC_FILE: with_tables(DOC_FILE.read_text())}
    stale = [
        path for path, text in outputs.items() if not path.is_file() or path.read_text() != text
    ]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is not current: run python scripts/gen_protocol.py")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(outputs[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
