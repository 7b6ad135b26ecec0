"""High-level helpers: build a model from a config and run it on images."""
from .builder import build_model, drop_pretrained_weights
from .export import (
                     build_export_model,
                     check_onnx,
                     export_onnx,
                     load_checkpoint_strict,
)
from .inference import get_test_pipeline_cfg, inference_model, init_model
from .onnx_inference import OnnxMultiTaskPredictor, inference_onnx

__all__ = [
    'build_export_model', 'build_model', 'check_onnx',
    'drop_pretrained_weights', 'export_onnx', 'get_test_pipeline_cfg',
    'inference_model', 'inference_onnx', 'init_model',
    'load_checkpoint_strict', 'OnnxMultiTaskPredictor'
]
