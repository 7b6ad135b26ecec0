from . import (  # noqa: F401
    data_preprocessor,  # noqa: F401
    decode_heads,
    layers,
    losses,
    segmentors,
)
