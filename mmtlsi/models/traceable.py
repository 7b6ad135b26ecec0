"""Export-time forwards of upstream modules whose sizes become constants.

``torch.jit.trace`` (the TorchScript ONNX exporter) records a map's size as
a graph value only while it stays a tensor: ``x.shape[i]`` is a 0-dim
tensor under the tracer and arithmetic on it is recorded, but a Python
``int()``, ``math.ceil``, ``max`` / ``min``, a comparison in an ``if`` or
a ``range`` turns it into a constant of the example's size. Three upstream
modules of the Swin backbones do that:

- mmpretrain's ``ShiftWindowMSA`` (1.2.0): the batch of ``window_reverse``
  (``int(...)``), the shifted-window mask (an image of region ids written
  slice by slice), the crop of the window padding (``if H != H_pad``) and
  the shift itself, dropped where the map's smaller side is exactly one
  window (``if min(H, W) == window_size`` without ``pad_small_map``);
- mmcv's ``AdaptivePadding`` (Swin's patch embedding and patch merging):
  the padding (``math.ceil``, ``max``, ``if pad_h > 0``).

:func:`shift_window_msa_forward` and :func:`adaptive_padding_forward`
compute the same maps from the traced sizes with tensor operations: every
padding and crop always taken (zero-width where none is needed), the mask
from region ids of ``torch.arange`` compared with thresholds, the cyclic
shift as an index gather whose amount is a tensor. :func:`traceable_forwards`
binds them to a model's instances of exactly those classes while it is
active, and removes them after: outside it eager PyTorch runs the upstream
code unchanged.
"""
from __future__ import annotations

from contextlib import contextmanager
from types import MethodType
from typing import (
    TYPE_CHECKING,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:  # imported where the forwards are bound (mmpretrain's
    # models package is slow to import)
    from mmcv.cnn.bricks.transformer import AdaptivePadding
    from mmpretrain.models.utils.attention import ShiftWindowMSA

Size = Union[int, Tensor]


def nonnegative(value: Size) -> Size:
    """``max(value, 0)``, kept in the graph where ``value`` is traced."""
    if isinstance(value, Tensor):
        return value.clamp(min=0)
    return max(value, 0)


def adaptive_padding_forward(self: AdaptivePadding, x: Tensor) -> Tensor:
    """``AdaptivePadding.forward`` with the padding computed from the
    traced size and always applied (zero-width where none is needed)."""
    h, w = x.shape[-2], x.shape[-1]
    (kh, kw), (sh, sw) = self.kernel_size, self.stride
    dh, dw = self.dilation
    # output size ceil(h / s) as integer arithmetic: (h + s - 1) // s
    pad_h = nonnegative(((h + sh - 1) // sh - 1) * sh + (kh - 1) * dh + 1 - h)
    pad_w = nonnegative(((w + sw - 1) // sw - 1) * sw + (kw - 1) * dw + 1 - w)
    if self.padding == 'corner':
        return F.pad(x, [0, pad_w, 0, pad_h])
    if self.padding == 'same':
        return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2,
                         pad_h - pad_h // 2])
    raise ValueError(f'AdaptivePadding mode {self.padding!r} is neither '
                     "'corner' nor 'same'")


def _axis_regions(size: Size, window: int, shift: Size,
                  device: torch.device) -> Tensor:
    """Region id (0, 1, 2) of each position along one padded axis of a
    shifted map: before ``size - window``, up to ``size - shift``, after.
    With ``shift`` 0 the last region is empty and the boundary between the
    others falls on a window edge: every window is one region."""
    pos = torch.arange(size, device=device)
    return (pos >= size - window).long() + (pos >= size - shift).long()


def shifted_window_mask(hw_pad: Tuple[Size, Size], window: int,
                        shift: Size, device: Optional[torch.device] = None,
                        dtype: torch.dtype = torch.float32) -> Tensor:
    """(nW, window**2, window**2) additive attention mask of the shifted
    windows of a (padded) map: 0 between positions of the same region,
    -100 between different ones (ShiftWindowMSA's values)."""
    hp, wp = hw_pad
    rows = _axis_regions(hp, window, shift, device)
    cols = _axis_regions(wp, window, shift, device)
    ids = rows[:, None] * 3 + cols[None, :]                     # (Hp, Wp)
    ids = ids.view(hp // window, window, wp // window, window)
    ids = ids.permute(0, 2, 1, 3).reshape(-1, window * window)  # (nW, n)
    differ = ids.unsqueeze(1) != ids.unsqueeze(2)
    return differ.to(dtype).masked_fill(differ, -100.0)


def _roll(x: Tensor, shift: Size, dims: Sequence[int]) -> Tensor:
    """``torch.roll(x, shift, dims)`` for a shift that may be a tensor
    (an index gather along each dim)."""
    for dim in dims:
        n = x.shape[dim]
        index = (torch.arange(n, device=x.device) - shift) % n
        x = x.index_select(dim, index)
    return x


def _effective_shift(self: ShiftWindowMSA, h: Size, w: Size) -> Size:
    """The shift ShiftWindowMSA applies to an H x W map: none where its
    smaller side is exactly one window and ``pad_small_map`` is off."""
    shift, window = self.shift_size, self.window_size
    if shift == 0 or self.pad_small_map:
        return shift
    if not isinstance(h, Tensor) and not isinstance(w, Tensor):
        return 0 if min(h, w) == window else shift
    side = torch.minimum(torch.as_tensor(h), torch.as_tensor(w))
    return (side != window).long() * shift


def shift_window_msa_forward(self: ShiftWindowMSA, query: Tensor,
                             hw_shape: Tuple[Size, Size]) -> Tensor:
    """``ShiftWindowMSA.forward`` (mmpretrain 1.2.0) with every size kept
    a graph value: the same windows, mask, shift and crop.

    A map smaller than the window, which the upstream module refuses
    without ``pad_small_map``, is padded to one window here (as with
    ``pad_small_map``) rather than refused, so that the one trace can
    record every block's size: :func:`min_input_size` turns that record
    into the smallest input, and the exporter refuses an example below it.
    """
    b, _, c = query.shape
    h, w = hw_shape
    window = self.window_size
    query = query.view(b, h, w, c)
    pad_b = (window - h % window) % window
    pad_r = (window - w % window) % window
    query = F.pad(query, (0, 0, 0, pad_r, 0, pad_b))
    hp, wp = query.shape[1], query.shape[2]
    shift = _effective_shift(self, h, w)
    mask = None
    if self.shift_size > 0:
        query = _roll(query, -shift, (1, 2))
        mask = shifted_window_mask((hp, wp), window, shift, query.device,
                                   query.dtype)
    windows = query.view(b, hp // window, window, wp // window, window, c)
    windows = windows.permute(0, 1, 3, 2, 4, 5).reshape(
        -1, window * window, c)
    out = self.w_msa(windows, mask=mask)
    out = out.view(b, hp // window, wp // window, window, window, c)
    out = out.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
    if self.shift_size > 0:
        out = _roll(out, shift, (1, 2))
    out = out[:, :h, :w].contiguous().view(b, h * w, c)
    return self.drop(out)


def traceable_forward_table() -> Dict[Callable, Callable]:
    """Upstream forward -> its traceable replacement. An instance is
    patched only when its class runs exactly that forward (a subclass that
    overrides it is left alone)."""
    from mmcv.cnn.bricks.transformer import AdaptivePadding
    from mmpretrain.models.utils.attention import ShiftWindowMSA
    return {ShiftWindowMSA.forward: shift_window_msa_forward,
            AdaptivePadding.forward: adaptive_padding_forward}


@contextmanager
def traceable_forwards(model: nn.Module,
                       record: Optional[List[Dict]] = None
                       ) -> Iterator[int]:
    """Bind the traceable forwards to ``model``'s modules while active.

    Yields how many modules were patched. With ``record`` (a list), each
    patched ``ShiftWindowMSA`` call appends ``dict(module=name,
    hw=(H, W), window=..., pad_small_map=...)`` with the sizes it saw
    (ints), from which :func:`min_input_size` finds the smallest input.
    The instances' own ``forward`` is restored on exit, also on error.
    """
    table = traceable_forward_table()
    patched = []
    for name, module in model.named_modules():
        replacement = table.get(
            getattr(type(module), 'forward', None))
        if replacement is None:
            continue
        if record is not None and replacement is shift_window_msa_forward:
            replacement = _recording(replacement, name, record)
        patched.append((module, module.__dict__.get('forward')))
        module.forward = MethodType(replacement, module)
    try:
        yield len(patched)
    finally:
        for module, own in patched:
            if own is None:
                del module.forward
            else:
                module.forward = own


def _recording(forward, name: str, record: List[Dict]):
    def run(self, query, hw_shape):
        record.append(dict(module=name, hw=tuple(int(s) for s in hw_shape),
                           window=self.window_size,
                           pad_small_map=bool(self.pad_small_map)))
        return forward(self, query, hw_shape)
    return run


def min_input_size(record: Sequence[Dict], input_hw: Sequence[int]
                   ) -> Optional[Tuple[int, int]]:
    """The smallest (H, W) input the recorded ``ShiftWindowMSA`` calls take
    (each block without ``pad_small_map`` needs its map at least one window
    on each side: window x the block's stride), from one forward at
    ``input_hw``; None where no block limits the size."""
    sizes = [(window_side(r, input_hw, 0), window_side(r, input_hw, 1))
             for r in record if not r['pad_small_map']]
    if not sizes:
        return None
    return max(s[0] for s in sizes), max(s[1] for s in sizes)


def window_side(entry: Dict, input_hw: Sequence[int], axis: int) -> int:
    """Input size along ``axis`` at which the block's map is one window."""
    stride = round(input_hw[axis] / entry['hw'][axis])
    return entry['window'] * stride
