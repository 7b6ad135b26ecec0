"""mmtlsi: MTLSI-Net, linear-time multi-task dense prediction for MMSegmentation.

Importing this package first applies :mod:`mmtlsi.compat` (before anything
imports mmseg), then registers every mmtlsi module into mmseg's registries.
"""
from . import compat

compat.apply()

from . import tasks  # noqa: E402
from .version import __version__  # noqa: E402
from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401,I001

__all__ = ['__version__', 'compat', 'tasks']
