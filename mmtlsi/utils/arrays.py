"""Conversion of tensors and data-structure fields to NumPy."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from mmengine.structures import BaseDataElement


def to_numpy(data) -> np.ndarray:
    """A NumPy array of a tensor (any device, gradients dropped; half and
    bfloat16 as float32), of the ``data`` of a ``PixelData`` or of a
    ``{'data': ...}`` dict (a data sample after ``to_dict()``), or of an
    array-like."""
    if isinstance(data, Mapping) and 'data' in data:
        data = data['data']
    elif isinstance(data, BaseDataElement):
        data = data.data
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu()
        if data.dtype in (torch.float16, torch.bfloat16):
            data = data.float()
        data = data.numpy()
    return np.asarray(data)
