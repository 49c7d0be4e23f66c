"""A small table type: a list of row dicts that shows as HTML and converts to pandas."""

from __future__ import annotations

import html
import time
from datetime import datetime
from typing import Any


def is_time_column(name: str) -> bool:
    """Columns of epoch seconds (``created_t``, a turn's ``start``/``end``): shown as times."""
    return name.endswith("_t") or name in ("t", "start", "end")


class Table(list[dict[str, Any]]):
    """Rows as dicts; ``to_dataframe()`` when pandas is installed; HTML in notebooks."""

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of the rows (``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from None
        frame = pd.DataFrame(list(self))
        zone = datetime.now().astimezone().tzinfo
        for name in frame.columns:
            if is_time_column(str(name)):
                times = pd.to_datetime(frame[name], unit="s", utc=True)
                frame[name] = times.dt.tz_convert(zone)
        return frame

    def column(self, name: str) -> list[Any]:
        """One column's values, in row order."""
        return [row.get(name) for row in self]

    def _repr_html_(self) -> str:
        if not self:
            return "<em>no rows</em>"
        names = list(dict.fromkeys(k for row in self for k in row))
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(_cell(row.get(n), is_time_column(n)))}</td>" for n in names
            )
            + "</tr>"
            for row in self
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any, is_time: bool = False) -> str:
    if value is None:
        return ""
    if is_time and isinstance(value, (int, float)) and not isinstance(value, bool):
        return local_time(float(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def local_time(t: float) -> str:
    """Epoch seconds as the local time of day with milliseconds, e.g. ``14:03:07.123``."""
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
