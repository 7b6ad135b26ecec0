"""Small config helpers shared by ``tools/train.py`` and ``tools/test.py``."""
from __future__ import annotations

from mmengine.config import Config

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def set_data_root(cfg: Config, data_root: str) -> list[str]:
    """Point every dataloader's dataset at ``data_root``.

    A base dataset config copies its top-level ``data_root`` into each
    dataset when it is read, so ``--cfg-options data_root=...`` alone would
    change nothing; the tools call this to make that one option work.
    Dataset wrappers (``dataset=dict(dataset=...)``) are followed.

    Returns the names of the dataloaders that were changed.
    """
    cfg.data_root = data_root
    changed = []
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader:
            continue
        dataset = loader.get('dataset')
        while dataset is not None:
            if 'data_root' in dataset:
                dataset['data_root'] = data_root
                changed.append(name)
                break
            dataset = dataset.get('dataset')
    return changed
