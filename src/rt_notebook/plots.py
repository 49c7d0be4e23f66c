"""Public home of the plots (``from rt_notebook import plots``); they live in ``analysis.plots``."""

from .analysis.plots import *  # noqa: F403
from .analysis.plots import __all__ as __all__
