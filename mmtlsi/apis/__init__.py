"""High-level helpers: build a model from a config and run it on images."""
from .builder import build_model, drop_pretrained_weights
from .inference import get_test_pipeline_cfg, inference_model, init_model

__all__ = [
    'build_model', 'drop_pretrained_weights', 'get_test_pipeline_cfg',
    'inference_model', 'init_model'
]
