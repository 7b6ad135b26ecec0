"""Conversion of tensors and data-structure fields to NumPy."""
from __future__ import annotations

import numpy as np


def to_numpy(data) -> np.ndarray:
    """A NumPy array of a tensor (any device; half / bfloat16 as float32),
    a ``PixelData`` or a ``{'data': ...}`` dict (their ``data``), or an
    array-like."""
    if isinstance(data, dict) and 'data' in data:
        data = data['data']
    elif hasattr(data, 'data') and not isinstance(data, np.ndarray) \
            and not hasattr(data, 'detach'):
        data = data.data                                    # PixelData
    if hasattr(data, 'detach'):
        data = data.detach().cpu()
        if data.dtype.is_floating_point and data.element_size() < 4:
            data = data.float()
        data = data.numpy()
    return np.asarray(data)
