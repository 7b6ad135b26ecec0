"""What the ONNX tests share: the skip when onnx / onnxruntime are missing,
and a model with weights that make every output a real map."""
import importlib.util

import pytest
import torch

DEMO = 'configs/demo/mtlsi_tiny_synthetic-nyud.py'
MISSING = [m for m in ('onnx', 'onnxruntime')
           if importlib.util.find_spec(m) is None]
needs_onnx = pytest.mark.skipif(
    bool(MISSING), reason=f'{" and ".join(MISSING)} not installed '
    '(pip install -r requirements/optional.txt)')


def perturbed_model(config=DEMO, cfg_options=None):
    """``config``'s model for export (seeded random weights), its BN
    statistics moved off their defaults and depth's bias raised, so that
    clamping at 0 leaves a real depth map."""
    from mmtlsi.apis.export import build_export_model
    model = build_export_model(config, None, cfg_options)
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.1, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
    with torch.no_grad():
        for t, spec in model.task_specs.items():
            if spec.output == 'scalar':
                model.decode_head.output[t].predictor.bias.add_(1.0)
    return model
