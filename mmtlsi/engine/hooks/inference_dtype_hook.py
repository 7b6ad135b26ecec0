"""Testing a checkpoint with the model rewritten for inference (bf16
weights, BN folded)."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmtlsi.models import optimize_for_inference
from mmtlsi.registry import HOOKS


@HOOKS.register_module()
class InferenceDtypeHook(Hook):
    """Before the test loop (after the checkpoint is loaded), rewrites the
    model with :func:`mmtlsi.models.optimize_for_inference`.

    Args:
        dtype: ``'bf16'`` (weights and computation in bfloat16, the maps
            returned in fp32), ``'fp32'``, or ``'auto'`` (bf16 on CUDA and
            on a CPU with native bf16, else fp32; the log says which and
            why).
        fuse_bn: fold BatchNorm into the convolution before it.

    The test metrics are then those of the rewritten model; the tolerances
    of bf16 against fp32 are in docs/model.md. Validation during training
    is not touched (the model is still training there).
    """

    priority = 'LOW'

    def __init__(self, dtype: str = 'bf16', fuse_bn: bool = False) -> None:
        if dtype not in ('bf16', 'fp32', 'auto'):
            raise ValueError(f"InferenceDtypeHook: dtype {dtype!r}: 'bf16', "
                             f"'fp32' or 'auto'")
        self.dtype = dtype
        self.fuse_bn = fuse_bn

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model.eval()
        optimize_for_inference(model, fuse_bn=self.fuse_bn, dtype=self.dtype)
        print_log(f'testing with {model.inference_dtype_reason}'
                  f'{", BN folded" if self.fuse_bn else ""}', logger='current')
