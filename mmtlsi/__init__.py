"""mmtlsi: MTLSI-Net, linear-time multi-task dense prediction (MMSeg).

Importing this package first applies :mod:`mmtlsi.compat` (before anything
imports mmseg), then registers every mmtlsi module into mmseg's registries.
"""
from . import compat

compat.apply()

from . import (  # noqa: E402,F401,I001
    datasets,
    engine,
    evaluation,
    models,
    tasks,  # noqa: E402
    visualization,
)
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'compat', 'tasks']
