import numpy as np
import torch
from mmengine.structures import PixelData

from mmtlsi.utils import to_numpy


def test_to_numpy_unwraps_and_converts():
    t = torch.tensor([[[1.5, -2.0]]], requires_grad=True)
    for wrapped in (t, PixelData(data=t), dict(data=t)):
        arr = to_numpy(wrapped)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
        assert arr.tolist() == [[[1.5, -2.0]]]
    half = to_numpy(torch.tensor([0.25], dtype=torch.bfloat16))
    assert half.dtype == np.float32 and half.tolist() == [0.25]
    labels = to_numpy(PixelData(data=torch.tensor([[[3, 255]]])))
    assert labels.dtype == np.int64 and labels.shape == (1, 1, 2)
    assert to_numpy([[1, 2]]).tolist() == [[1, 2]]
