"""High-level helpers: build a model from a config and run it on images."""
from .inference import (
    drop_pretrained_weights,
    get_test_pipeline_cfg,
    inference_model,
    init_model,
)

__all__ = [
    'drop_pretrained_weights', 'get_test_pipeline_cfg', 'inference_model',
    'init_model'
]
