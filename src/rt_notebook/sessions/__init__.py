"""The session in the kernel: core, browser (widget) and headless transports, tools, recordings.

``rt.sessions`` is this package once it is imported, so the package itself is callable:
``rt.sessions()`` lists the kernel's live sessions (see ``registry``).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self) -> list[Any]:
        from .registry import sessions

        return sessions()


sys.modules[__name__].__class__ = _CallablePackage
