"""``python -m rt_notebook.hub``: the class service (JupyterHub starts it)."""

from __future__ import annotations

import logging

from ..errors import REDACTING
from .service import HubService


def main() -> None:
    handler = logging.StreamHandler()
    handler.addFilter(REDACTING)  # every line, of every library, loses the key
    logging.basicConfig(
        level=logging.INFO,
        format="[%(levelname)s %(asctime)s %(name)s] %(message)s",
        handlers=[handler],
    )
    HubService.launch_instance()


if __name__ == "__main__":
    main()
