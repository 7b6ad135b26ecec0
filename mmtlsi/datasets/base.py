"""Common machinery of mmtlsi's multi-task datasets."""
from __future__ import annotations

import codecs
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from mmengine.logging import MMLogger
from mmseg.datasets import BaseSegDataset

from mmtlsi.tasks import build_task_specs

from .transforms.task_specs import iter_transforms


def read_split_ids(path: str) -> List[str]:
    """Non-blank lines of a UTF-8 split file (BOM and CRLF allowed)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b'\n') + 1
        raise ValueError(
            f'split file {path}, line {line}: not UTF-8 text (byte '
            f'0x{data[e.start]:02x}); save it as UTF-8') from None
    return [line.strip() for line in text.splitlines() if line.strip()]


class MultiTaskSegDataset(BaseSegDataset):
    """A dataset whose samples carry several dense tasks.

    Subclasses describe a layout on disk: which ids a split holds
    (:meth:`load_ids`), where a sample's image is (:meth:`image_path`) and,
    for each task, which file and decoder give its ground truth
    (:meth:`task_annotation`). Decoding happens in the pipeline
    (``LoadMultiTaskAnnotations``) so that the dataset only stores paths.

    Args:
        data_root: the dataset folder.
        split: 'train' or 'val' (or any split file name the layout has).
        tasks: the tasks to load, a subset of ``TASKS`` (names, or a dict
            name -> overrides as for :func:`mmtlsi.tasks.build_task_specs`);
            default: every task of the dataset.
        task_cfg: per-task overrides (e.g. ``semseg=dict(num_classes=40)``).
            The dataset hands the resulting specs to every transform of its
            pipeline that reads task settings (``bind_task_specs``): they
            use the dataset's ``tasks`` / ``task_cfg``, and one with a
            ``task_cfg`` of its own that disagrees stops the build.
        check_files: check at construction that every file of every sample
            exists (raises ``FileNotFoundError`` naming the missing files).
        **kwargs: passed to :class:`mmseg.datasets.BaseSegDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``serialize_data``...).
    """

    #: every task the dataset provides, in the canonical order
    TASKS: Tuple[str, ...] = ()
    #: class names / palettes per label-map task (besides semseg in METAINFO)
    TASK_METAINFO: Dict[str, dict] = {}

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 tasks: Union[Sequence[str], Mapping[str, dict], None] = None,
                 task_cfg: Optional[Mapping[str, dict]] = None,
                 check_files: bool = True,
                 **kwargs) -> None:
        if tasks is None:
            tasks = list(self.TASKS)
        specs = build_task_specs(tasks, task_cfg)
        unknown = [t for t in specs if t not in self.TASKS]
        if unknown:
            raise ValueError(
                f'{type(self).__name__} has no task(s) {unknown}; '
                f'it provides {list(self.TASKS)}')
        self.task_specs = specs
        self.tasks: List[str] = list(specs)
        # tasks whose class count the config sets (num_classes): it wins over
        # the dataset's class names
        overrides = [task_cfg or {}]
        if isinstance(tasks, Mapping):
            overrides.append(tasks)
        self._configured_classes = {
            t for o in overrides for t, c in o.items()
            if isinstance(c, Mapping) and 'num_classes' in c}
        self.split = split
        self.check_files = check_files
        kwargs.setdefault('ann_file', '')
        kwargs.setdefault('data_prefix', dict(img_path='', seg_map_path=''))
        super().__init__(data_root=data_root, **kwargs)
        for transform in iter_transforms(self.pipeline):
            bind = getattr(transform, 'bind_task_specs', None)
            if callable(bind):
                bind(self.task_specs, f'{type(self).__name__} (its tasks / '
                     f'task_cfg)')

    # -- metainfo -------------------------------------------------------------
    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        info = super()._load_metainfo(metainfo)
        info.setdefault('task_metainfo', dict(cls.TASK_METAINFO))
        return info

    def full_init(self) -> None:
        self._metainfo['tasks'] = list(self.tasks)
        super().full_init()

    # -- layout hooks --------------------------------------------------
    def prepare_data_root(self) -> None:
        """Called before the ids are read (synthetic datasets generate)."""

    def load_ids(self) -> List[str]:
        raise NotImplementedError

    def image_path(self, img_id: str) -> str:
        raise NotImplementedError

    def task_annotation(self, task: str, img_id: str) -> dict:
        """``dict(decoder=name, path=file, **decoder kwargs)``."""
        raise NotImplementedError

    def layout_name(self) -> str:
        return type(self).__name__

    # -- helpers -------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return osp.join(self.data_root or '', *parts)

    def read_split_file(self, path: str) -> List[str]:
        """The ids of a split file, one per line: UTF-8 with or without a
        byte-order mark, LF or CRLF line ends; blank lines are skipped.
        Anything else raises ``ValueError`` naming the file and the line."""
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'split file not found: {path} (data_root={self.data_root!r}, '
                f'split={self.split!r})')
        ids = read_split_ids(path)
        if not ids:
            raise ValueError(f'split file {path} lists no image ids')
        return ids

    def num_classes(self, task: str) -> int:
        """How many classes a class-map task has: ``num_classes`` of the
        task's config if given, else the dataset's class names."""
        spec = self.task_specs[task]
        if task in self._configured_classes:
            return spec.out_channels
        info = self.metainfo
        names = info.get('classes') if task == 'semseg' else \
            info.get('task_metainfo', {}).get(task, {}).get('classes')
        return len(names) if names else spec.out_channels

    def load_data_list(self) -> List[dict]:
        self.prepare_data_root()
        ids = self.load_ids()
        num_classes = {t: self.num_classes(t)
                       for t, spec in self.task_specs.items()
                       if spec.output == 'classes'}
        data_list, missing = [], []
        for img_id in ids:
            img_path = self.image_path(img_id)
            ann_info = {t: self.task_annotation(t, img_id) for t in self.tasks}
            if self.check_files:
                files = [img_path]
                for ann in ann_info.values():
                    files += [v for k, v in ann.items()
                              if k == 'path' or k.endswith('_path')]
                missing += [p for p in files if p and not osp.isfile(p)]
            first = ann_info[self.tasks[0]]
            data_list.append(dict(
                img_path=img_path,
                img_id=img_id,
                seg_map_path=first.get('path'),
                ann_info=ann_info,
                tasks=list(self.tasks),
                num_classes=num_classes,
                label_map=self.label_map,
                reduce_zero_label=False,
                seg_fields=[]))
        if missing:
            shown = '\n  '.join(missing[:20])
            more = f'\n  ... and {len(missing) - 20} more' \
                if len(missing) > 20 else ''
            raise FileNotFoundError(
                f'{type(self).__name__} ({self.layout_name()}, split '
                f'{self.split!r}, data_root {self.data_root!r}): '
                f'{len(missing)} file(s) missing:\n  {shown}{more}')
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: {len(data_list)} {self.split} samples '
            f'from {self.data_root} (layout: {self.layout_name()}; '
            f'tasks: {", ".join(self.tasks)})')
        return data_list
