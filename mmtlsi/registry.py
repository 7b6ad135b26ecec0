"""mmtlsi registers its modules into MMSegmentation's registries.

Configs therefore keep ``default_scope = 'mmseg'`` and refer to mmtlsi's
classes by their plain names, next to mmseg's and (as ``mmpretrain.X``)
mmpretrain's.
"""
from mmseg.registry import (  # noqa: F401
                            DATASETS,
                            HOOKS,
                            METRICS,
                            MODELS,
                            TRANSFORMS,
                            VISBACKENDS,
                            VISUALIZERS,
)

__all__ = ['DATASETS', 'HOOKS', 'METRICS', 'MODELS', 'TRANSFORMS',
           'VISBACKENDS', 'VISUALIZERS']
