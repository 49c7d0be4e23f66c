"""The conversation's items: order, lookup, client-created items and their checks, truncation."""

from __future__ import annotations

import copy
from typing import Any

from ...wire.audio import duration_ms
from .audio_formats import bytes_for_ms
from .errors import ClientError, Emit
from .ids import new_id

Item = dict[str, Any]
"""An item as on the wire, plus private ``_…`` keys (``_pcm``: its audio, PCM16 at 24 kHz)."""


class Conversation:
    """The items of one session, in order; announces additions as ``conversation.item.*``."""

    def __init__(self, emit: Emit) -> None:
        self.items: list[Item] = []
        self._emit = emit

    def add(self, item: Item, previous: str | None) -> None:
        """Insert after ``previous`` (``"root"``: first; ``None``: last) and announce it."""
        if previous == "root":
            self.items.insert(0, item)
            previous = None
        elif previous is None:
            self.items.append(item)
        else:
            index = self.items.index(self.find(previous, param="previous_item_id"))
            self.items.insert(index + 1, item)
        self._emit("conversation.item.added", previous_item_id=previous, item=public(item))
        self._emit("conversation.item.done", previous_item_id=previous, item=public(item))

    def create(self, item: Item, event: dict[str, Any]) -> None:
        """A client's ``conversation.item.create``: checked, given an id, inserted."""
        checked = check_item(item, self.items)
        previous = event.get("previous_item_id")
        self.add(checked, previous if "previous_item_id" in event else self.last_id())

    def delete(self, item_id: str) -> None:
        self.items.remove(self.find(item_id))
        self._emit("conversation.item.deleted", item_id=item_id)

    def truncate(self, item: Item, content_index: int, end_ms: int) -> None:
        """Cut an assistant message's audio at ``end_ms`` (what the user actually heard)."""
        if item.get("role") != "assistant":
            raise ClientError(
                "invalid_value", "Only assistant messages can be truncated.", "item_id"
            )
        content = item.get("content") or []
        if not 0 <= content_index < len(content) or content[content_index]["type"] != (
            "output_audio"
        ):
            raise ClientError(
                "invalid_value", "content_index does not point at audio.", "content_index"
            )
        length = audio_ms(item)
        if not 0 <= end_ms <= length:
            raise ClientError(
                "invalid_value",
                f"audio_end_ms {end_ms} is past the end of the audio ({length} ms).",
                "audio_end_ms",
            )
        if "_pcm" in item:
            item["_pcm"] = item["_pcm"][: bytes_for_ms(end_ms)]
        self._emit(
            "conversation.item.truncated",
            item_id=item["id"],
            content_index=content_index,
            audio_end_ms=end_ms,
        )

    def find(self, item_id: str, param: str = "item_id") -> Item:
        for item in self.items:
            if item["id"] == item_id:
                return item
        raise ClientError("item_not_found", f"Item with item_id not found: {item_id}.", param)

    def last_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    def heard(self) -> str | None:
        """The text of the latest user message (typed, or its audio's transcript)."""
        for item in reversed(self.items):
            if item.get("role") == "user":
                texts = [p.get("text") or p.get("transcript") for p in item.get("content", [])]
                return " ".join(t for t in texts if t) or None
        return None

    def public_items(self) -> list[Item]:
        return [public(item) for item in self.items]


def message_item(item_id: str, role: str, status: str, content: list[dict[str, Any]]) -> Item:
    """A message item as the server creates it."""
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": role,
        "status": status,
        "content": content,
    }


def public(item: Item) -> Item:
    """An item as sent on the wire: no private bookkeeping keys, no audio bytes."""
    return {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("_")}


def audio_ms(item: Item) -> int:
    """Milliseconds of audio an item holds (its PCM16 at 24 kHz)."""
    return duration_ms(len(item.get("_pcm", b"")) // 2)


_USER_PARTS = {"input_text", "input_audio", "input_image"}
_ASSISTANT_PARTS = {"output_text", "output_audio"}
_BETA_PARTS = {"text": "output_text", "audio": "output_audio"}


def check_item(given: Item, items: list[Item]) -> Item:
    """Validate a client-created item and give it an id."""
    item = copy.deepcopy(given)
    kind = item.get("type")
    if kind == "message":
        _check_message(item)
    elif kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(item.get("output"), str):
            raise ClientError(
                "invalid_type", "item.output must be a string (e.g. JSON text).", "item.output"
            )
        if not any(i.get("type") == "function_call" and i.get("call_id") == call_id for i in items):
            raise ClientError(
                "invalid_value",
                f"No function call with call_id {call_id!r} in the conversation.",
                "item.call_id",
            )
    elif kind == "function_call":
        if not isinstance(item.get("name"), str) or not isinstance(item.get("arguments"), str):
            raise ClientError(
                "missing_required_parameter",
                "A function_call item needs 'name' and 'arguments' strings.",
                "item",
            )
    else:
        raise ClientError(
            "invalid_value", f"item.type {kind!r} is not supported here.", "item.type"
        )
    item.setdefault("id", new_id("item"))
    if any(i["id"] == item["id"] for i in items):
        raise ClientError(
            "invalid_value", f"An item with id {item['id']!r} already exists.", "item.id"
        )
    item["object"] = "realtime.item"
    item.setdefault("status", "completed")
    return item


def _check_message(item: Item) -> None:
    role = item.get("role")
    allowed = {
        "user": _USER_PARTS,
        "system": {"input_text"},
        "assistant": _ASSISTANT_PARTS,
    }.get(str(role))
    if allowed is None:
        raise ClientError(
            "invalid_value", "item.role must be user, system or assistant.", "item.role"
        )
    content = item.get("content")
    if not isinstance(content, list) or not content:
        raise ClientError(
            "missing_required_parameter", "item.content must be a list.", "item.content"
        )
    for i, part in enumerate(content):
        part_type = part.get("type") if isinstance(part, dict) else None
        if part_type not in allowed:
            hint = (
                f" (GA uses {_BETA_PARTS[part_type]!r})"
                if role == "assistant" and part_type in _BETA_PARTS
                else ""
            )
            raise ClientError(
                "invalid_value",
                f"item.content[{i}].type {part_type!r} is not valid for a {role} message{hint}.",
                f"item.content[{i}].type",
            )
        if part_type == "input_image":
            _check_image(part.get("image_url"), f"item.content[{i}].image_url")
        if part_type in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise ClientError(
                "missing_required_parameter",
                f"item.content[{i}].text must be a string.",
                f"item.content[{i}].text",
            )


def _check_image(url: object, param: str) -> None:
    if not isinstance(url, str) or not url.startswith(
        ("data:image/png;base64,", "data:image/jpeg;base64,")
    ):
        raise ClientError(
            "invalid_value",
            "image_url must be a data URL: data:image/png;base64,… or data:image/jpeg;base64,…",
            param,
        )
