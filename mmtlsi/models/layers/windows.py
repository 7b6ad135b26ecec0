"""Non-overlapping windows: partition a map into them and back, with
zero-padding for any size (no attention here; CWIB attends in them)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def is_exporting() -> bool:
    """True while ``torch.onnx.export`` or ``torch.export`` trace the model.

    Branches on a map's size then take their general path (padding, by
    zero rows where none is needed), so that the traced graph holds for
    every input size, not only the example's.
    """
    if torch.onnx.is_in_onnx_export():
        return True
    exporting = getattr(torch.compiler, 'is_exporting', None)  # torch>=2.6
    return bool(exporting is not None and exporting())


def pad_to_windows(x: Tensor, window_size: tuple[int, int]
                   ) -> tuple[Tensor, tuple[int, int]]:
    """Zero-pad a (B, H, W, C) map at the bottom / right to whole windows.

    Returns the padded map and the (pad_h, pad_w) that was added.
    """
    _, h, w, _ = x.shape
    wh, ww = window_size
    pad_h, pad_w = (-h) % wh, (-w) % ww
    if is_exporting() or pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    return x, (pad_h, pad_w)


def window_partition(x: Tensor, window_size: tuple[int, int]) -> Tensor:
    """(B, H, W, C) -> (B * nW, wh * ww, C); H, W must be multiples."""
    b, h, w, c = x.shape
    wh, ww = window_size
    x = x.view(b, h // wh, wh, w // ww, ww, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * ww, c)


def window_reverse(windows: Tensor, window_size: tuple[int, int],
                   height: int, width: int) -> Tensor:
    """(B * nW, wh * ww, *C) -> (B, H, W, *C), the inverse of
    :func:`window_partition`. The windows may be strided (e.g. per-head
    outputs, transposed): one copy either way."""
    wh, ww = window_size
    rest = windows.shape[2:]
    nh, nw = height // wh, width // ww
    x = windows.view(-1, nh, nw, wh, ww, *rest)
    x = x.permute(0, 1, 3, 2, 4, *range(5, x.dim()))  # (B, nh, wh, nw, ww, *C)
    return x.reshape(-1, height, width, *rest)
