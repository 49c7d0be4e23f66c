"""``python -m rt_notebook.hub``: the class service (JupyterHub starts it)."""

from __future__ import annotations

import logging

from .service import HubService


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s"
    )
    HubService.launch_instance()


if __name__ == "__main__":
    main()
