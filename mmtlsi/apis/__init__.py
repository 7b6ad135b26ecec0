"""High-level helpers: build a model from a config, load checkpoints
strictly, run it on images, export it to ONNX and run the exported file."""
from .builder import build_model, drop_pretrained_weights
from .checkpoint import CheckpointMismatchError, load_model_checkpoint
from .export import build_export_model, check_onnx, export_onnx
from .inference import get_test_pipeline_cfg, inference_model, init_model
from .mtlsi_inferencer import MTLSIInferencer
from .onnx_inference import OnnxMultiTaskPredictor, inference_onnx

__all__ = [
    'CheckpointMismatchError', 'MTLSIInferencer', 'OnnxMultiTaskPredictor',
    'build_export_model', 'build_model', 'check_onnx',
    'drop_pretrained_weights', 'export_onnx', 'get_test_pipeline_cfg',
    'inference_model', 'inference_onnx', 'init_model',
    'load_model_checkpoint'
]
