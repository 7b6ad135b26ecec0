"""MTLSI-Net's decoding head: everything after the backbone (Fig. 1)."""
from __future__ import annotations

import copy
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmtlsi.registry import MODELS
from mmtlsi.tasks import build_task_specs

from ..layers import CWIB, PointwiseConv2d, SemanticTokenDistiller, TaskDecoder
from ..losses import MultiTaskLoss


def concat_channels_last(maps: Sequence[Tensor]) -> Tensor:
    """Channel concatenation of (B, C_i, H, W) maps, returned channels-last:
    one copy, after which the 1x1 projection returns F_t channels-last, the
    layout MT-MQLFB reads its tokens from."""
    return torch.cat([m.permute(0, 2, 3, 1) for m in maps], -1).permute(
        0, 3, 1, 2)


@MODELS.register_module()
class MTLSIHead(BaseModule):
    """Preliminary decoders -> F_t -> fusion -> distiller -> CWIB -> output
    decoders, for any set of tasks.

    Shapes (backbone strides 4..32, T tasks, d = ``channels``):
    P_t, F_t, X_t (B, d, H/4, W/4); fused tokens I (B, T*H/8*W/8, d);
    distilled tokens I'_t (B, K, d); predictions (B, C_t, H/4, W/4).

    Args:
        in_channels: channels of the backbone outputs used (finest first).
        tasks, task_cfg: task selection and overrides
            (:func:`mmtlsi.tasks.build_task_specs`); channels, output kind and
            loss of each task come from its TaskSpec.
        channels: width d of every task feature and token.
        num_heads: heads of CWIB's window and cross attention (the fusion
            has its own ``num_heads`` in ``fusion``).
        num_tokens: K, the distilled tokens per task.
        window_size: CWIB window (Hw, Ww) at stride 4.
        fusion: config of the cross-task fusion taking the T maps F_t and
            returning tokens (``MTMQLFB``, or ``CrossTaskAttention`` for the
            quadratic baseline); ``channels`` is filled in.
            ``None`` = "preliminary decoders only": no fusion, no refinement,
            the coarse predictions are the output.
        preliminary_decoder / output_decoder: keyword arguments of their
            :class:`TaskDecoder` (``lateral_kernel``, ``num_convs``).
        distiller_hidden: hidden width of the distiller's MLP (None = d).
        ffn_ratio: CWIB FFN width as a multiple of d.
        cwib: further keyword arguments of every :class:`CWIB`
            (``rel_pos_bias``).
        distiller_cwib: False drops the distiller and CWIB (an ablation,
            "PD + fusion"): each task's fused tokens, as a (d, H/8, W/8) map
            upsampled to P_t's size, are added to P_t before its output
            decoder.
        coarse_loss_weight: factor on the coarse predictions' losses.
    """

    def __init__(self, in_channels: Sequence[int], tasks, task_cfg=None,
                 channels: int = 256, num_heads: int = 8,
                 num_tokens: int = 512,
                 window_size: Sequence[int] = (14, 16),
                 fusion: dict | None = dict(type='MTMQLFB'),
                 preliminary_decoder: dict | None = None,
                 output_decoder: dict | None = None,
                 distiller_hidden: int | None = None,
                 ffn_ratio: float = 4.0,
                 cwib: dict | None = None,
                 distiller_cwib: bool = True,
                 coarse_loss_weight: float = 1.0,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.task_specs = build_task_specs(tasks, task_cfg)
        self.tasks = list(self.task_specs)
        self.align_corners = False
        self.coarse_loss_weight = coarse_loss_weight
        self.preliminary = nn.ModuleDict({
            t: TaskDecoder(in_channels, channels, s.out_channels,
                           norm_cfg=norm_cfg, **(preliminary_decoder or {}))
            for t, s in self.task_specs.items()})
        self.refine = fusion is not None
        if self.refine:
            fusion = copy.deepcopy(fusion)
            fusion.setdefault('channels', channels)
            self.fusion = MODELS.build(fusion)
            self.input_proj = nn.ModuleDict({     # F_t = Proj([P_t, coarse_t])
                t: ConvModule(channels + s.out_channels, channels, 1,
                              conv_cfg=dict(type=PointwiseConv2d),
                              norm_cfg=norm_cfg, act_cfg=None)
                for t, s in self.task_specs.items()})
        self.distiller_cwib = self.refine and distiller_cwib
        if self.distiller_cwib:
            self.distillers = nn.ModuleDict({
                t: SemanticTokenDistiller(channels, num_tokens,
                                          distiller_hidden)
                for t in self.tasks})
            self.cwibs = nn.ModuleDict({
                t: CWIB(channels, num_heads, tuple(window_size), num_tokens,
                        ffn_ratio, **(cwib or {}))
                for t in self.tasks})
        if self.refine:
            self.output = nn.ModuleDict({
                t: TaskDecoder([channels], channels, s.out_channels,
                               norm_cfg=norm_cfg, **(output_decoder or {}))
                for t, s in self.task_specs.items()})
        self.loss_fn = MultiTaskLoss(self.task_specs)

    def forward(self, inputs: Sequence[Tensor]) -> dict:
        """Backbone features -> dict(final={task: logits},
        coarse={task: logits}); logits at the finest input's size. Without
        refinement (PD only) both hold the coarse logits."""
        feats, coarse = {}, {}
        for t in self.tasks:
            feats[t], coarse[t] = self.preliminary[t](inputs)
        if not self.refine:
            return dict(final=coarse, coarse=coarse)
        f = [self.input_proj[t](concat_channels_last([feats[t], coarse[t]]))
             for t in self.tasks]
        fused = self.fusion(f)                                 # (B, N, d)
        final = {}
        for i, t in enumerate(self.tasks):
            if self.distiller_cwib:
                x = self.cwibs[t](feats[t], self.distillers[t](fused))
            else:
                x = feats[t] + self._task_map(fused, i, feats[t])
            final[t] = self.output[t]([x])[1]
        return dict(final=final, coarse=coarse)

    def _task_map(self, fused: Tensor, index: int, like: Tensor) -> Tensor:
        """Task ``index``'s tokens of ``fused`` (B, T*h*w, d), tasks
        concatenated on tokens, h = ceil(H/2), as a map the size of ``like``
        (B, d, H, W), bilinearly upsampled."""
        b, d, height, width = like.shape
        h, w = -(-height // 2), -(-width // 2)
        tokens = fused.view(b, len(self.tasks), h * w, d)[:, index]
        grid = tokens.transpose(1, 2).reshape(b, d, h, w)
        return F.interpolate(grid, size=(height, width), mode='bilinear',
                             align_corners=self.align_corners)

    def loss_by_feat(self, outputs: Mapping[str, dict],
                     targets: Mapping[str, Tensor]) -> dict:
        """Losses of the final (``loss_<task>``) and, when refined, the coarse
        (``loss_<task>_coarse``) predictions."""
        losses = self.loss_fn(outputs['final'], targets)
        if self.refine:
            losses.update(self.loss_fn(outputs['coarse'], targets,
                                       weight=self.coarse_loss_weight,
                                       suffix='_coarse'))
        return losses

    def loss(self, inputs: Sequence[Tensor], data_samples) -> dict:
        return self.loss_by_feat(self.forward(inputs),
                                 self.stack_targets(data_samples))

    def stack_targets(self, data_samples) -> dict:
        """(B, C_gt, H, W) ground truth per task; a sample without a task's
        ground truth contributes an all-invalid map (the spec's pad value)."""
        targets = {}
        for t, spec in self.task_specs.items():
            ref = next((s.get(spec.gt_field) for s in data_samples
                        if spec.gt_field in s), None)
            if ref is None:
                provided = data_samples[0].metainfo.get('tasks') \
                    if len(data_samples) else None
                raise ValueError(
                    f'the model is trained for task {t!r}, but the '
                    f'dataset provides only {provided} (no sample carries '
                    f'{spec.gt_field}); choose model.decode_head.tasks '
                    f'among the dataset\'s tasks')
            maps = []
            for s in data_samples:
                if spec.gt_field in s:
                    maps.append(s.get(spec.gt_field).data)
                else:
                    maps.append(torch.full_like(ref.data, spec.pad_value))
            targets[t] = torch.stack(maps)
        return targets
