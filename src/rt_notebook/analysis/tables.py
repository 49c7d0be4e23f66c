"""A small table type: a list of row dicts that shows as HTML and converts to pandas."""

from __future__ import annotations

import html
from typing import Any


class Table(list[dict[str, Any]]):
    """Rows as dicts; ``to_dataframe()`` when pandas is installed; HTML in notebooks."""

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of the rows (``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from None
        return pd.DataFrame(list(self))

    def column(self, name: str) -> list[Any]:
        """One column's values, in row order."""
        return [row.get(name) for row in self]

    def _repr_html_(self) -> str:
        if not self:
            return "<em>no rows</em>"
        names = list(dict.fromkeys(k for row in self for k in row))
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(n)))}</td>" for n in names) + "</tr>"
            for row in self
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
