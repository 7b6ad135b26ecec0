from . import (  # noqa: F401
    backbone_weights,
    data_preprocessor,  # noqa: F401
    decode_heads,
    layers,
    losses,
    necks,
    segmentors,
)
