"""Build a multi-task model from a config and run it on images."""
from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample

from .builder import build_model
from .checkpoint import load_model_checkpoint

ImageType = Union[str, Path, np.ndarray]


def _dataset_metainfo(cfg: Config) -> dict:
    """The metainfo of the test dataset's class, without reading data."""
    try:
        dataset_cfg = cfg.test_dataloader.dataset
        meta = {}
        dataset_cls = DATASETS.get(dataset_cfg.type)
        if dataset_cls is not None and hasattr(dataset_cls,
                                               '_load_metainfo'):
            meta.update(dataset_cls._load_metainfo(
                copy.deepcopy(dataset_cfg.get('metainfo'))))
        elif dataset_cls is not None:
            meta.update(copy.deepcopy(getattr(dataset_cls, 'METAINFO', {})))
        meta.update(dataset_cfg.get('metainfo') or {})
        return dict(meta)
    except Exception:  # noqa: BLE001  (a partial config has no dataset)
        return {}


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build a model from a config and load a checkpoint into it.

    Args:
        config: config file or ``Config``.
        checkpoint: file (or URL) loaded with mmengine's checkpoint loader;
            when given, the backbone's ``init_cfg`` / ``pretrained`` are
            cleared so that no pretrained weights are fetched.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:0'``...
        cfg_options: overrides merged into the config.
        strict: a checkpoint that does not fill the model exactly (a key
            missing or extra, a shape that differs) raises
            :class:`~mmtlsi.apis.checkpoint.CheckpointMismatchError` naming
            the file and the keys; ``False`` loads what fits and prints the
            rest.

    Returns:
        The model in eval mode on ``device``, with ``model.cfg`` (the config)
        and ``model.dataset_meta`` (from the checkpoint's meta, else the test
        dataset class's ``METAINFO``, else ``{}``).
    """
    model = build_model(config, cfg_options,
                        drop_pretrained=checkpoint is not None)
    cfg = model.cfg
    dataset_meta = None
    if checkpoint is not None:
        what = 'the model of ' + (
            str(config) if isinstance(config, (str, Path))
            else str(cfg.filename or 'the config'))
        ckpt, _ = load_model_checkpoint(model, checkpoint, strict=strict,
                                        what=what)
        dataset_meta = (ckpt.get('meta') or {}).get('dataset_meta')
    if dataset_meta is None:
        dataset_meta = _dataset_metainfo(cfg)
        if checkpoint is not None:
            warnings.warn('the checkpoint has no dataset_meta; using the '
                          'test dataset\'s METAINFO', stacklevel=2)
    model.dataset_meta = dataset_meta
    return model.to(device)


def get_test_pipeline_cfg(cfg: Config, from_array: bool = False) -> list:
    """The test pipeline without annotation loading.

    Taken from ``cfg.test_dataloader.dataset.pipeline`` (or
    ``cfg.test_pipeline``); every transform whose type contains
    ``'Annotation'`` is dropped. With ``from_array`` the image loader (the
    first transform whose type contains ``'LoadImage'``) becomes mmseg's
    ``LoadImageFromNDArray``.
    """
    pipeline = None
    if cfg.get('test_dataloader') is not None:
        pipeline = cfg.test_dataloader.get('dataset', {}).get('pipeline')
    if pipeline is None:
        pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        raise ValueError('the config has neither '
                         'test_dataloader.dataset.pipeline nor test_pipeline')
    pipeline = [copy.deepcopy(dict(t)) for t in pipeline
                if 'Annotation' not in str(t.get('type', ''))]
    if from_array:
        for t in pipeline:
            if 'LoadImage' in str(t.get('type', '')):
                t.clear()
                t['type'] = 'LoadImageFromNDArray'
                break
    return pipeline


def inference_model(model: torch.nn.Module,
                    images: Union[ImageType, Sequence[ImageType]]
                    ) -> List[SegDataSample]:
    """Predict every task of ``model`` on one image or a list of images.

    Args:
        model: a model from :func:`init_model` (it needs ``model.cfg``).
        images: file path(s), or HxWx3 uint8 array(s) in the order the
            config's image loader produces (mmseg: BGR, as
            ``mmcv.imread`` returns).

    Returns:
        One ``SegDataSample`` per image, always a list, holding at each
        task's ``pred_field`` a ``PixelData`` at the image's size (see
        ``docs/CONTRACTS.md``).
    """
    if isinstance(images, (str, Path, np.ndarray)):
        images = [images]
    images = list(images)
    if not images:
        return []
    from_array = isinstance(images[0], np.ndarray)
    init_default_scope(model.cfg.get('default_scope', 'mmseg'))
    pipeline = Compose(get_test_pipeline_cfg(model.cfg, from_array))
    data = defaultdict(list)
    for img in images:
        if isinstance(img, np.ndarray):
            results = dict(img=img)
        else:
            results = dict(img_path=str(img))
        results = pipeline(results)
        data['inputs'].append(results['inputs'])
        data['data_samples'].append(results['data_samples'])
    with torch.no_grad():
        return list(model.test_step(dict(data)))
