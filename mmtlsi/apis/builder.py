"""The one way mmtlsi builds a model from a config.

:func:`init_model` (inference), the analysis tools (FLOPs, benchmarks,
export) and the experiment drivers all call :func:`build_model`, so they
agree on which pretrained weights are dropped, whether SyncBN is reverted
and how ``cfg_options`` are checked.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Mapping, Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmtlsi.registry import MODELS

from .run_config import merge_cfg_options

ConfigType = Union[str, Path, Config]


def to_config(config: ConfigType) -> Config:
    """A private copy of ``config`` (a file name or a ``Config``)."""
    if isinstance(config, (str, Path)):
        return Config.fromfile(str(config))
    if isinstance(config, Config):
        return copy.deepcopy(config)
    raise TypeError(f'config must be a file name or a Config, '
                    f'got {type(config)}')


def drop_pretrained_weights(model_cfg) -> None:
    """Remove what would make the backbone fetch pretrained weights
    (``init_cfg``, ``pretrained``), in place."""
    if 'pretrained' in model_cfg:
        model_cfg.pretrained = None
    backbone = model_cfg.get('backbone')
    if backbone is not None:
        if 'init_cfg' in backbone:
            backbone.init_cfg = None
        if 'pretrained' in backbone:
            backbone.pretrained = None if not isinstance(
                backbone.pretrained, bool) else False


def build_model(config: ConfigType,
                cfg_options: Optional[Mapping] = None,
                *,
                drop_pretrained: bool = True,
                revert_sync_bn: bool = True,
                device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """Build ``config``'s model, without loading any checkpoint.

    Args:
        config: config file or ``Config`` (not modified).
        cfg_options: overrides, checked like ``--cfg-options`` (an unknown
            key is an error naming the closest known one).
        drop_pretrained: clear the backbone's ``init_cfg`` / ``pretrained``
            so that nothing is downloaded (the weights come from a
            checkpoint, or do not matter).
        revert_sync_bn: turn SyncBN into BN (a single process has no
            process group for it).
        device: where the model is put.

    Returns:
        The model in eval mode with ``model.cfg`` set to the config used.
    """
    cfg = merge_cfg_options(to_config(config), cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if drop_pretrained:
        drop_pretrained_weights(cfg.model)
    if 'train_cfg' in cfg.model:
        cfg.model.train_cfg = None
    model = MODELS.build(cfg.model)
    if revert_sync_bn:
        from mmengine.model.utils import revert_sync_batchnorm
        model = revert_sync_batchnorm(model)
    model.cfg = cfg
    return model.to(device).eval()
