"""Data preprocessor: normalise images, pad every task with its own value."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.structures import SegDataSample

from mmtlsi.registry import MODELS
from mmtlsi.tasks import TaskSpec, check_task_specs_agree, task_specs_for

#: the spec fields the data preprocessor reads
PREPROCESSOR_SPEC_FIELDS = ('gt_field', 'pad_value', 'ignore_index')
#: metainfo key in which packing records task -> ``ignore_index`` of the
#: label maps (``PackMultiTaskInputs``)
GT_IGNORE_KEY = 'gt_ignore_index'


def pad_values(specs: Mapping[str, TaskSpec]) -> Dict[str, float]:
    """Ground-truth field -> the value it is padded with (its spec's
    ``pad_value``: labels 255, depth 0, ... unless overridden)."""
    return {s.gt_field: s.pad_value for s in specs.values()}


def _padding(shape: Tuple[int, int], size: Optional[Sequence[int]],
             size_divisor: Optional[int],
             max_size: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """(left, right, top, bottom) padding, as mmseg's ``stack_batch``."""
    h, w = shape
    if size is not None:
        target = (size[-2], size[-1])
    elif size_divisor is not None:
        target = (max_size[0], max_size[1])
    else:
        return (0, 0, 0, 0)
    return (0, max(int(target[1]) - w, 0), 0, max(int(target[0]) - h, 0))


def stack_multi_task_batch(inputs: List[torch.Tensor],
                           data_samples: Optional[list] = None,
                           size: Optional[Sequence[int]] = None,
                           size_divisor: Optional[int] = None,
                           pad_val: float = 0,
                           gt_pad_values: Optional[Mapping[str, float]] = None
                           ) -> Tuple[torch.Tensor, list]:
    """Pad images and every task's ground truth bottom / right, then stack.

    Like :func:`mmseg.utils.stack_batch`, but each ground-truth field is
    padded with its own value, ``gt_pad_values[field]`` (default: the
    registered tasks' ``pad_value``: label maps 255, depth 0, normals 0),
    and keeps its dtype; a ``PixelData`` field not in ``gt_pad_values`` is
    an error. Samples get ``img_shape``, ``pad_shape`` and ``padding_size``
    (left, right, top, bottom) in their metainfo; without samples, a list
    of dicts with ``img_padding_size`` and ``pad_shape`` is returned.

    Exactly one of ``size`` / ``size_divisor`` may be given; with neither,
    images are padded to the largest one of the batch.
    """
    assert isinstance(inputs, list) and inputs, 'inputs must be a list'
    assert all(t.ndim == 3 for t in inputs), 'inputs must be CHW tensors'
    assert not (size is not None and size_divisor is not None), \
        'only one of size and size_divisor may be given'
    if gt_pad_values is None:
        gt_pad_values = pad_values(task_specs_for())
    shapes = np.array([t.shape[-2:] for t in inputs])
    max_size = shapes.max(0)
    if size_divisor is not None and size_divisor > 1:
        max_size = (max_size + size_divisor - 1) // size_divisor * \
            size_divisor
    if size is None and size_divisor is None:
        size_divisor = 1
    padded_inputs, padded_samples = [], []
    for i, tensor in enumerate(inputs):
        padding = _padding(tuple(tensor.shape[-2:]), size, size_divisor,
                           tuple(max_size))
        padded = F.pad(tensor, padding, value=pad_val)
        padded_inputs.append(padded)
        if data_samples is None:
            padded_samples.append(dict(img_padding_size=padding,
                                       pad_shape=padded.shape[-2:]))
            continue
        sample = data_samples[i]
        unknown = [k for k, v in sample.items()
                   if isinstance(v, PixelData) and k not in gt_pad_values]
        if unknown:
            raise KeyError(
                f'data sample {i} holds ground truth {unknown} of no task '
                f'the data preprocessor pads (it pads '
                f'{sorted(gt_pad_values)}); add the task to its `tasks`')
        for field, value in gt_pad_values.items():
            if field in sample:
                pixel_data = getattr(sample, field)
                data = pixel_data.data
                del pixel_data.data
                pixel_data.data = F.pad(data, padding, value=value)
        sample.set_metainfo(dict(img_shape=tuple(tensor.shape[-2:]),
                                 pad_shape=tuple(padded.shape[-2:]),
                                 padding_size=padding))
        padded_samples.append(sample)
    return torch.stack(padded_inputs, dim=0), padded_samples


@MODELS.register_module()
class MultiTaskDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` for multi-task samples.

    Normalises the images (``mean``/``std``, ``bgr_to_rgb``) as mmseg does,
    then pads the images with ``pad_val`` and each task's ground truth with
    its task's ``pad_value`` (``tasks.py``: label maps 255, depth 0, normals
    0, or what ``task_cfg`` sets), keeping each field's dtype.

    Training pads images and ground truth to ``size`` (or ``size_divisor``)
    and records ``padding_size``. Testing pads only the images, as
    ``test_cfg`` says (``dict(size=...)`` or ``dict(size_divisor=...)``),
    and records ``img_padding_size`` (= ``padding_size``) so predictions
    can be cropped back to the image; the ground truth keeps the image's
    size. Without ``test_cfg`` test images must share a size. Test inputs
    without data samples (``model.test_step(dict(inputs=[...]))``) get one
    ``SegDataSample`` each, holding the image's size and padding, so that
    the predictions come back at the image's size.

    The model checks that it pads every task of the head with the value
    the head reads (:meth:`check_task_specs`), so a ``pad_value`` or
    ``ignore_index`` set in the head's ``task_cfg`` and not here stops the
    build with an error naming the task; the configs pass both one shared
    ``task_cfg``. Each batch's samples are checked against the ignore
    index their ground truth was packed with (:meth:`check_samples`), so
    data and model cannot disagree on it either.

    Args:
        tasks: the tasks whose ground truth it pads (names, or name ->
            overrides, as :func:`mmtlsi.tasks.build_task_specs`); default:
            every registered task. Ground truth of another task in a
            training sample is an error.
        task_cfg: per-task overrides, e.g. ``depth=dict(pad_value=-1.)``
            (the same ``task_cfg`` as the head's).
        **kwargs: as :class:`mmseg.models.SegDataPreProcessor`, but for
            ``seg_pad_val``, an error here: each task pads with its spec's
            ``pad_value``.
    """

    def __init__(self, *args, tasks=None, task_cfg=None, **kwargs) -> None:
        if 'seg_pad_val' in kwargs:
            raise TypeError(
                'MultiTaskDataPreProcessor: seg_pad_val is not read; each '
                "task's ground truth is padded with the pad_value of its "
                'TaskSpec (mmtlsi.tasks), set per task with task_cfg')
        super().__init__(*args, **kwargs)
        self.tasks = tasks
        self.task_cfg = dict(task_cfg or {})
        task_specs_for(tasks, self.task_cfg)   # bad settings fail here

    @property
    def task_specs(self) -> Dict[str, TaskSpec]:
        """Spec of each task it pads (with ``task_cfg``); tasks registered
        after it was built count too when ``tasks`` is None."""
        return task_specs_for(self.tasks, self.task_cfg)

    def check_task_specs(self, specs: Mapping[str, TaskSpec],
                         owner: str = 'model.decode_head') -> None:
        """Raise ``ValueError`` unless it pads each task of ``specs`` (those
        of the component ``owner``) into the same field with the same
        ``pad_value`` and ``ignore_index``; the error names the task and
        the field."""
        check_task_specs_agree(
            specs, self.task_specs, PREPROCESSOR_SPEC_FIELDS, owner,
            'model.data_preprocessor')

    def check_samples(self, data_samples: Sequence) -> None:
        """Raise ``ValueError`` when a sample's ground truth marks ignored
        labels with another value than the model reads (its metainfo
        ``gt_ignore_index``, set by packing from the dataset's specs)."""
        specs = None
        for sample in data_samples:
            recorded = sample.metainfo.get(GT_IGNORE_KEY) or {}
            for task, value in recorded.items():
                specs = self.task_specs if specs is None else specs
                spec = specs.get(task)
                if spec is not None and spec.ignore_index != value:
                    raise ValueError(
                        f'task {task!r}: ignore_index is {value!r} in the '
                        f'data (the dataset\'s specs, '
                        f'{sample.metainfo.get("img_path")}) but '
                        f'{spec.ignore_index!r} in model.data_preprocessor; '
                        f'give the dataset and the model the same task_cfg')

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        data = self.cast_data(data)
        inputs = data['inputs']
        data_samples = data.get('data_samples', None)
        if data_samples is not None:
            self.check_samples(data_samples)
        if self.channel_conversion and inputs[0].size(0) == 3:
            inputs = [x[[2, 1, 0], ...] for x in inputs]
        inputs = [x.float() for x in inputs]
        if self._enable_normalize:
            inputs = [(x - self.mean) / self.std for x in inputs]

        if training:
            assert data_samples is not None, \
                'data_samples must be given during training'
            inputs, data_samples = stack_multi_task_batch(
                inputs, data_samples, size=self.size,
                size_divisor=self.size_divisor, pad_val=self.pad_val,
                gt_pad_values=pad_values(self.task_specs))
            if self.batch_augments is not None:
                inputs, data_samples = self.batch_augments(
                    inputs, data_samples)
        elif self.test_cfg:
            size = self.test_cfg.get('size', None)
            size_divisor = self.test_cfg.get('size_divisor', None)
            # the ground truth stays at the image's size: predictions are
            # cropped back with ``img_padding_size`` before the metric
            shapes = [tuple(x.shape[-2:]) for x in inputs]
            inputs, pads = stack_multi_task_batch(
                inputs, None, size=size, size_divisor=size_divisor,
                pad_val=self.pad_val)
            if data_samples is None:
                data_samples = [SegDataSample(metainfo=dict(
                    ori_shape=shape, img_shape=shape)) for shape in shapes]
            for sample, pad in zip(data_samples, pads):
                sample.set_metainfo(dict(
                    img_padding_size=pad['img_padding_size'],
                    padding_size=pad['img_padding_size'],
                    pad_shape=tuple(pad['pad_shape'])))
        else:
            shape = inputs[0].shape[1:]
            assert all(x.shape[1:] == shape for x in inputs), \
                'test images in a batch must share a size (or set ' \
                'test_cfg=dict(size_divisor=...) to pad them)'
            inputs = torch.stack(inputs, dim=0)
        return dict(inputs=inputs, data_samples=data_samples)
