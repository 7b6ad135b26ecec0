"""Synthetic multi-task datasets: procedural rooms (:mod:`.synthesis`)
generated into ``data_root`` on first use, in the real layouts, and read by
the real datasets' loaders."""
from __future__ import annotations

from typing import Optional, Sequence

from mmtlsi.registry import DATASETS

from .decoders import load_meta
from .nyud import NYUDv2Dataset
from .pascal_context import PascalContextMTDataset
from .synthesis import (
    NYUD_CLASSES,
    PASCAL_CLASSES,
    ensure_synthetic_dataset,
)


class _SyntheticMixin:
    KIND = 'nyud'

    def _init_synthetic(self, num_train, num_val, img_size, seed,
                        extra: Optional[dict] = None) -> None:
        self.synthetic_params = dict(kind=self.KIND, num_train=num_train,
                                     num_val=num_val,
                                     img_size=tuple(img_size), seed=seed,
                                     **(extra or {}))

    def prepare_data_root(self) -> None:
        ensure_synthetic_dataset(self.data_root, **self.synthetic_params)


@DATASETS.register_module()
class SyntheticNYUDv2Dataset(_SyntheticMixin, NYUDv2Dataset):
    """Synthetic rooms in the NYUDv2 layout (semseg, depth, normals, edge).

    Generated into ``data_root`` on first use (see
    :func:`~mmtlsi.datasets.synthesis.generate_synthetic_dataset`). 7
    classes: wall, floor, ceiling, cabinet, table, box, ball.

    Args:
        num_train, num_val: samples per split (default 200 / 50).
        img_size: (height, width), default (96, 128).
        seed: the generator's seed.
    """

    KIND = 'nyud'
    METAINFO = dict(classes=NYUD_CLASSES,
                    palette=[list(c) for c in
                             load_meta('nyudv2')['palette'][:7]])

    def __init__(self, data_root: str = 'data/synthetic_nyud',
                 num_train: int = 200, num_val: int = 50,
                 img_size: Sequence[int] = (96, 128), seed: int = 0,
                 **kwargs) -> None:
        self._init_synthetic(num_train, num_val, img_size, seed)
        kwargs.setdefault('layout', 'atrc')
        super().__init__(data_root=data_root, **kwargs)

    def layout_name(self) -> str:
        return 'synthetic, NYUDv2 ETH/ATRC layout'


@DATASETS.register_module()
class SyntheticPascalContextDataset(_SyntheticMixin, PascalContextMTDataset):
    """Synthetic rooms with people in the PASCAL-Context layout (semseg,
    human parts, normals, saliency, boundaries).

    6 semantic classes: background (room), cabinet, table, box, ball,
    person; human parts as PASCAL-Context (7 classes, all 255 without a
    person); saliency = objects and people.

    Args:
        num_train, num_val, img_size, seed: as
            :class:`SyntheticNYUDv2Dataset`.
        person_prob: chance that a scene holds a person (default 0.7).
    """

    KIND = 'pascal'
    METAINFO = dict(classes=PASCAL_CLASSES,
                    palette=[list(c) for c in
                             load_meta('pascal_context')['palette'][:6]])

    def __init__(self, data_root: str = 'data/synthetic_pascal',
                 num_train: int = 200, num_val: int = 50,
                 img_size: Sequence[int] = (96, 128), seed: int = 0,
                 person_prob: float = 0.7, **kwargs) -> None:
        self._init_synthetic(num_train, num_val, img_size, seed,
                             dict(person_prob=person_prob))
        super().__init__(data_root=data_root, **kwargs)

    def layout_name(self) -> str:
        return 'synthetic, PASCAL-Context layout'
