"""mmtlsi registers its modules into MMSegmentation's registries.

Configs therefore keep ``default_scope = 'mmseg'`` and refer to mmtlsi's
classes by their plain names, next to mmseg's and (as ``mmpretrain.X``)
mmpretrain's.

A config that inherits ``_base_ = 'mmtlsi::...'`` gets ``_scope_='mmtlsi'``
on the dicts it overrides (mmengine's rule for package bases). mmengine then
imports this module and looks for registries of scope ``mmtlsi``: the empty
children below answer, and every lookup in them continues in their parent,
mmseg's registry, where the modules are.
"""
from mmengine.registry import Registry
from mmseg.registry import (  # noqa: F401
    DATASETS,
    HOOKS,
    METRICS,
    MODELS,
    TRANSFORMS,
    VISBACKENDS,
    VISUALIZERS,
)
from mmseg.registry import registry as _mmseg_registry

SCOPE = 'mmtlsi'


def _scope_children() -> dict:
    children = {}
    for name, registry in vars(_mmseg_registry).items():
        if isinstance(registry, Registry) and registry.scope == 'mmseg':
            existing = registry.children.get(SCOPE)
            children[name] = existing or Registry(
                registry.name, parent=registry, scope=SCOPE,
                locations=['mmtlsi'])
    return children


SCOPE_REGISTRIES = _scope_children()

__all__ = ['DATASETS', 'HOOKS', 'METRICS', 'MODELS', 'TRANSFORMS',
           'VISBACKENDS', 'VISUALIZERS', 'SCOPE_REGISTRIES']
