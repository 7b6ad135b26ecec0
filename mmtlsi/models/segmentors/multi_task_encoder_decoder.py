"""Backbone + multi-task head, with per-task postprocessing."""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.structures import SegDataSample
from torch import Tensor

from mmtlsi.registry import MODELS
from mmtlsi.tasks import TaskSpec


def decode_prediction(logits: Tensor, spec: TaskSpec) -> Tensor:
    """Raw head output (C, H, W) -> the prediction format of CONTRACTS.md."""
    if spec.output == 'classes':
        return logits.argmax(dim=0, keepdim=True)
    if spec.output == 'scalar':
        return logits.clamp(min=0)
    if spec.output == 'vector':
        return F.normalize(logits, p=2, dim=0)
    if spec.output == 'binary':
        return logits.sigmoid()
    raise ValueError(f'unknown output kind {spec.output!r}')


def restore_original_frame(logits: Tensor, meta: Mapping,
                           spec: TaskSpec) -> Tensor:
    """(C, H, W) logits at the padded input size -> logits at ``ori_shape``:
    remove the preprocessor's padding, undo a recorded flip (with the sign
    of the channels the spec's ``flip_negated_channels`` names), resize
    (bilinear)."""
    left, right, top, bottom = meta.get(
        'img_padding_size', meta.get('padding_size', None)) or [0, 0, 0, 0]
    h, w = logits.shape[-2:]
    logits = logits[:, top:h - bottom, left:w - right]
    if meta.get('flip', False):
        direction = meta.get('flip_direction', 'horizontal')
        dims = dict(horizontal=(-1, ), vertical=(-2, ),
                    diagonal=(-2, -1)).get(direction)
        if dims is None:
            raise ValueError(f'cannot undo a {direction!r} flip')
        logits = logits.flip(dims)
        negated = spec.channels_negated_by_flip(direction)
        if negated:
            sign = torch.ones(logits.shape[0], 1, 1, dtype=logits.dtype,
                              device=logits.device)
            sign[list(negated)] = -1
            logits = logits * sign
    ori_shape = tuple(meta['ori_shape'][:2])
    if tuple(logits.shape[-2:]) != ori_shape:
        logits = F.interpolate(logits[None], size=ori_shape, mode='bilinear',
                               align_corners=False)[0]
    return logits


@MODELS.register_module()
class MultiTaskEncoderDecoder(EncoderDecoder):
    """mmseg's EncoderDecoder for a multi-task head (e.g. ``MTLSIHead``).

    Modes: ``loss`` -> dict of per-task losses; ``tensor`` -> dict task ->
    final logits at the input's (padded) size; ``predict`` -> one
    SegDataSample per image with every task's prediction (field
    ``spec.pred_field``) at the image's original size.

    Testing runs on the whole (padded) image: ``test_cfg.mode`` must be
    ``'whole'``. Sliding-window inference and mmseg's test-time augmentation
    (``aug_test``, ``SegTTAModel``) merge single-task ``seg_logits`` and are
    not supported; they raise instead of running on per-task dicts.

    ``compute_dtype`` (None: the input's) is the dtype the network runs in
    at inference; :func:`mmtlsi.models.optimize_for_inference` sets it with
    bf16 weights. The input is cast to it and the logits come back in fp32.
    """

    compute_dtype = None

    def __init__(self, backbone: dict, decode_head: dict,
                 neck: dict | None = None, train_cfg=None, test_cfg=None,
                 data_preprocessor=None, init_cfg=None):
        mode = (test_cfg or {}).get('mode', 'whole')
        if mode != 'whole':
            raise ValueError(
                f'MultiTaskEncoderDecoder: model.test_cfg.mode={mode!r} is '
                "not supported; only 'whole' (the full padded image in one "
                'forward) is')
        super().__init__(backbone=backbone, decode_head=decode_head,
                         neck=neck, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)

    def _init_decode_head(self, decode_head: dict) -> None:
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.task_specs = self.decode_head.task_specs
        # the preprocessor must pad each task as the head reads it
        check = getattr(self.data_preprocessor, 'check_task_specs', None)
        if check is not None:
            check(self.task_specs, 'model.decode_head')

    def network(self, inputs: Tensor) -> dict:
        """Backbone + head on a batch: dict(final=..., coarse=...) of logits
        per task at stride 4. Tensors in, tensors out: the part
        :func:`mmtlsi.models.compile_network` compiles."""
        return self.decode_head(self.extract_feat(inputs))

    def network_loss(self, inputs: Tensor, targets: dict) -> dict:
        """The losses of a batch from stacked targets (tensors only)."""
        return self.decode_head.loss_by_feat(self.network(inputs), targets)

    def loss(self, inputs: Tensor, data_samples) -> dict:
        return self.network_loss(
            inputs, self.decode_head.stack_targets(data_samples))

    def encode_decode(self, inputs: Tensor, batch_img_metas=None) -> dict:
        """Final logits per task (fp32), resized to the input's size."""
        x = inputs if self.compute_dtype is None else inputs.to(
            self.compute_dtype)
        outputs = self.network(x)['final']
        return {t: F.interpolate(x.float(), size=inputs.shape[2:],
                                 mode='bilinear',
                                 align_corners=self.align_corners)
                for t, x in outputs.items()}

    def inference(self, inputs: Tensor, batch_img_metas) -> dict:
        """Final logits per task at the input's size ('whole' mode)."""
        return self.encode_decode(inputs, batch_img_metas)

    def slide_inference(self, inputs, batch_img_metas):
        raise NotImplementedError(
            "MultiTaskEncoderDecoder has no 'slide' test mode; use "
            "test_cfg=dict(mode='whole')")

    def aug_test(self, inputs, batch_img_metas, rescale=True):
        raise NotImplementedError(
            'MultiTaskEncoderDecoder does not support test-time augmentation '
            '(aug_test / SegTTAModel average single-task seg_logits)')

    def _forward(self, inputs: Tensor, data_samples=None) -> dict:
        return self.encode_decode(inputs)

    def predict(self, inputs: Tensor, data_samples=None) -> list:
        if data_samples is None:
            h, w = inputs.shape[2:]
            data_samples = [SegDataSample(metainfo=dict(
                ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w),
                padding_size=[0, 0, 0, 0])) for _ in range(len(inputs))]
        logits = self.encode_decode(inputs)
        return self.postprocess_result(logits, data_samples)

    def postprocess_result(self, logits: Mapping[str, Tensor],
                           data_samples) -> list:
        for i, sample in enumerate(data_samples):
            for t, spec in self.task_specs.items():
                x = restore_original_frame(logits[t][i], sample.metainfo,
                                           spec)
                sample.set_data({spec.pred_field: PixelData(
                    data=decode_prediction(x, spec))})
        return data_samples
