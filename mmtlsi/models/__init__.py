from . import (  # noqa: F401
    backbone_weights,
    data_preprocessor,  # noqa: F401
    decode_heads,
    layers,
    losses,
    segmentors,
)
from .optimize import compile_network, optimize_for_inference

__all__ = ['compile_network', 'optimize_for_inference']
