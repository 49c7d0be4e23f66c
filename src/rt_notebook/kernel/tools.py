"""Python functions as realtime tools: a JSON schema from type hints and the docstring."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

__all__ = ["FunctionTool", "function_tool"]

_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class FunctionTool:
    """A tool the model can call: its GA ``tools`` entry and the Python function behind it."""

    name: str
    """The name the model calls it by."""
    description: str
    """What it does (the docstring's summary)."""
    parameters: dict[str, Any]
    """JSON Schema of the arguments."""
    function: Callable[..., Any]
    """The original function, still callable directly."""
    arguments_model: type[BaseModel]
    """Validates the model's arguments before the call."""
    main_thread: bool = False
    """Run on the kernel's main thread (after a busy cell) even when events arrive on a
    subshell; see ``RealtimeSession(events_during_cells=True)``."""

    def to_session_tool(self) -> dict[str, Any]:
        """The entry for ``session.tools``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    @property
    def is_async(self) -> bool:
        """True for ``async def`` tools."""
        return inspect.iscoroutinefunction(self.function)

    def parse(self, arguments: str) -> dict[str, Any]:
        """The model's JSON arguments, validated; raises ``ValueError`` with a clear message."""
        try:
            data = json.loads(arguments or "{}")
            if not isinstance(data, dict):
                raise TypeError("arguments must be a JSON object")
            parsed = self.arguments_model.model_validate(data)
        except (ValueError, TypeError, ValidationError) as exc:
            raise ValueError(f"invalid arguments for {self.name}: {_brief(exc)}") from None
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}


def as_output(result: Any) -> str:
    """A tool's return value as the string ``function_call_output`` needs."""
    return result if isinstance(result, str) else json.dumps(result, default=str)


def error_output(message: str) -> str:
    """An ``{"error": message}`` output, so the model hears what went wrong."""
    return json.dumps({"error": message})


def function_tool(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    main_thread: bool = False,
) -> FunctionTool:
    """Build a :class:`FunctionTool` from a (sync or async) function with type hints.

    Argument descriptions come from a Google-style ``Args:`` section of the docstring.
    """
    doc = inspect.getdoc(function) or ""
    summary, arg_docs = _parse_docstring(doc)
    hints = get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{function.__name__}: *args/**kwargs cannot be tool arguments")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, Field(default, description=arg_docs.get(param.name)))
    tool_name = name or function.__name__
    model = create_model(f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    return FunctionTool(
        name=tool_name,
        description=description or summary or tool_name,
        parameters=schema,
        function=function,
        arguments_model=model,
        main_thread=main_thread,
    )


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(summary, {argument: description}) from a Google-style docstring."""
    lines = doc.splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or _ARGS_HEADER.match(line):
            break
        summary_lines.append(line.strip())
    args: dict[str, str] = {}
    in_args, current = False, None
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args = True
            continue
        if in_args:
            if line.strip() and not line.startswith((" ", "\t")):
                break  # the next section
            match = _ARG_LINE.match(line)
            if match and match.group(1).lstrip("*"):
                current = match.group(1).lstrip("*")
                args[current] = match.group(2).strip()
            elif current and line.strip():
                args[current] = f"{args[current]} {line.strip()}".strip()
    return " ".join(summary_lines), args


def _brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)
