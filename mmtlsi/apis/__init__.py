"""High-level helpers: build a model from a config and run it on images."""
from .builder import build_model, drop_pretrained_weights
from .checkpoint import CheckpointMismatchError, load_model_checkpoint
from .inference import get_test_pipeline_cfg, inference_model, init_model
from .mtlsi_inferencer import MTLSIInferencer

__all__ = [
    'CheckpointMismatchError', 'MTLSIInferencer', 'build_model',
    'drop_pretrained_weights', 'get_test_pipeline_cfg', 'inference_model',
    'init_model', 'load_model_checkpoint'
]
