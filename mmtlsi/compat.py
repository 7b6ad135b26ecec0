"""Compatibility layer between mmtlsi and the 2026 OpenMMLab / PyTorch stack.

This is the only place where mmtlsi changes the behaviour of another package.
It must run before ``mmseg`` is imported, which ``import mmtlsi`` guarantees
(``mmtlsi/__init__.py`` calls :func:`apply` first). It imports nothing of
mmtlsi.

What it does, and why (``docs/install.md`` has the long story):

1. **mmcv-lite.** mmsegmentation 1.2.2 imports a few names from ``mmcv.ops``
   (compiled ops) at module level, so ``import mmseg.models`` fails when only
   the pure-Python ``mmcv-lite`` is installed. When the compiled extension
   ``mmcv._ext`` is absent, a stand-in ``mmcv.ops`` module is installed that
   provides pure-PyTorch versions of the names mmseg imports unconditionally
   (``point_sample``, ``sigmoid_focal_loss``); any other op raises
   ``ModuleNotFoundError`` (which mmseg's optional imports already catch)
   with a message that points at the full-mmcv install instructions. When
   full mmcv is installed, nothing is replaced.

2. **Safe checkpoint loading.** torch >= 2.6 loads with ``weights_only=True``
   by default, on every path (mmengine's ``load_from`` / ``--resume``,
   pretrained weights, ``torch.load``), so a pickle that runs code is
   refused. Older torch runs any pickle unless told otherwise, so mmtlsi
   requires torch 2.6 (:data:`MIN_TORCH`) and ``import mmtlsi`` refuses an
   older one. mmengine 0.10.x checkpoints hold a message hub (history
   buffers, numpy arrays and scalars). Those types are allow-listed with
   ``torch.serialization.add_safe_globals``; the safe loader itself stays on.
   ``HistoryBuffer`` pickled a dict of bound methods (``builtins.getattr`` in
   the pickle, which must never be allow-listed); it now pickles only its data.

3. **Config inheritance.** mmengine resolves ``_base_ = 'pkg::path'`` only
   for packages in its ``MODULE2PACKAGE`` table; ``mmtlsi`` is added to it.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings

import torch
import torch.nn.functional as F

FULL_MMCV_DOC = 'docs/install.md#full-mmcv-compiled-ops'
#: the oldest torch whose ``torch.load`` refuses arbitrary pickles by default
MIN_TORCH = (2, 6)

_applied = False


# --------------------------------------------------------------------------
# 1. mmcv.ops stand-ins
# --------------------------------------------------------------------------
def point_sample(input: torch.Tensor,
                 points: torch.Tensor,
                 align_corners: bool = False,
                 **kwargs) -> torch.Tensor:
    """Sample ``input`` at normalised ``points`` by bilinear interpolation.

    Same contract as ``mmcv.ops.point_sample``.

    Args:
        input: (N, C, H, W) feature map.
        points: (N, P, 2) or (N, Hg, Wg, 2) points, (x, y) in [0, 1].
        align_corners: as in ``torch.nn.functional.grid_sample``.

    Returns:
        (N, C, P) or (N, C, Hg, Wg) sampled features.
    """
    squeeze = points.dim() == 3
    if squeeze:
        points = points.unsqueeze(2)
    out = F.grid_sample(
        input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if squeeze else out


def sigmoid_focal_loss(pred: torch.Tensor,
                       target: torch.Tensor,
                       gamma: float = 2.0,
                       alpha: float = 0.25,
                       weight: torch.Tensor | None = None,
                       reduction: str = 'mean') -> torch.Tensor:
    """Pure-PyTorch ``mmcv.ops.sigmoid_focal_loss``.

    Args:
        pred: (N, C) logits.
        target: (N,) class indices; an index equal to C means background.
        weight: optional (C,) per-class weight.
    """
    num_classes = pred.size(1)
    one_hot = F.one_hot(target.long(), num_classes + 1)[:, :num_classes]
    one_hot = one_hot.to(pred.dtype)
    prob = pred.sigmoid()
    p_t = prob * one_hot + (1 - prob) * (1 - one_hot)
    alpha_t = alpha * one_hot + (1 - alpha) * (1 - one_hot)
    loss = F.binary_cross_entropy_with_logits(
        pred, one_hot, reduction='none') * alpha_t * (1 - p_t).pow(gamma)
    if weight is not None:
        loss = loss * weight.view(1, -1)
    if reduction == 'mean':
        return loss.sum() / pred.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


class MissingCompiledOpError(ModuleNotFoundError):
    """Raised when a compiled mmcv op is requested under mmcv-lite."""


def _make_ops_stand_in() -> types.ModuleType:
    module = types.ModuleType(
        'mmcv.ops', 'Pure-PyTorch stand-in for mmcv.ops (mmtlsi.compat).')
    module.point_sample = point_sample
    module.sigmoid_focal_loss = sigmoid_focal_loss
    module.__file__ = __file__
    module.__path__ = []  # a package, so 'mmcv.ops.xxx' imports fail cleanly
    module.__mmtlsi_stand_in__ = True

    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        raise MissingCompiledOpError(
            f'mmcv.ops.{name} is a compiled op, and the installed mmcv is '
            f'mmcv-lite (no compiled ops). mmtlsi does not need it; to use '
            f'it, install full mmcv as described in {FULL_MMCV_DOC}.')

    module.__getattr__ = __getattr__
    return module


def has_full_mmcv() -> bool:
    """True when mmcv's compiled extension is importable."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def install_mmcv_ops_stand_in() -> bool:
    """Provide ``mmcv.ops`` under mmcv-lite. Returns True if installed."""
    if has_full_mmcv():
        return False
    existing = sys.modules.get('mmcv.ops')
    if existing is not None and not getattr(existing,
                                            '__mmtlsi_stand_in__', False):
        return False  # an importable mmcv.ops is already loaded: keep it
    import mmcv  # noqa: F401  (the parent package must exist)
    # mmcv.cnn warns at import that a deformable-attention op is missing;
    # under mmcv-lite that is expected, and the op is not used by mmtlsi.
    warnings.filterwarnings(
        'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    stand_in = existing or _make_ops_stand_in()
    sys.modules['mmcv.ops'] = stand_in
    sys.modules['mmcv'].ops = stand_in
    return True


# --------------------------------------------------------------------------
# 2. Safe checkpoint loading
# --------------------------------------------------------------------------
def _history_buffer_getstate(self):
    return {k: v for k, v in self.__dict__.items()
            if 'statistics_methods' not in k}


def version_tuple(version: str) -> tuple:
    """``'2.6.0+cpu'`` -> ``(2, 6)``."""
    major, minor = version.split('+')[0].split('.')[:2]
    return int(major), int(''.join(c for c in minor if c.isdigit()) or 0)


def check_torch_version(version: str = torch.__version__) -> None:
    if version_tuple(version) < MIN_TORCH:
        raise ImportError(
            f'mmtlsi needs torch >= {MIN_TORCH[0]}.{MIN_TORCH[1]}; this is '
            f'torch {version}. Older torch loads checkpoints with pickle '
            f'unrestricted (weights_only=False), so a crafted checkpoint '
            f'could run code. See docs/install.md for the supported sets.')


def numpy_multiarray() -> types.ModuleType:
    """``numpy.core.multiarray`` (numpy 1.x) or ``numpy._core.multiarray``
    (numpy 2): the module numpy's pickles name. numpy 1.26 has a stub
    ``numpy._core`` without it, so the choice goes by the major version."""
    import numpy as np
    major = int(np.__version__.split('.')[0])
    return importlib.import_module(
        'numpy._core.multiarray' if major >= 2 else 'numpy.core.multiarray')


def checkpoint_safe_globals() -> list:
    """The types an mmengine checkpoint holds besides tensors and builtins."""
    import numpy as np
    from mmengine.logging import HistoryBuffer

    multiarray = numpy_multiarray()
    dtype_classes = [type(np.dtype(t)) for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
        np.uint16, np.uint32, np.uint64, np.float16, np.float32,
        np.float64)]
    import codecs
    return [HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct,
            multiarray.scalar, codecs.encode, *dtype_classes]


def enable_safe_checkpoint_loading() -> None:
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


# --------------------------------------------------------------------------
# 3. `_base_ = 'mmtlsi::...'`
# --------------------------------------------------------------------------
def _package_dir() -> str:
    import os.path as osp
    return osp.dirname(osp.abspath(__file__))


def register_config_package() -> None:
    """Let ``_base_ = 'mmtlsi::mtlsi/<name>.py'`` resolve.

    mmengine looks the package up in ``MODULE2PACKAGE`` and then in
    ``<installed path>/.mim/configs``. Its ``get_installed_path`` returns a
    path that does not exist for editable (PEP 660) installs, so for mmtlsi
    it is answered with the directory of the imported package.
    """
    from mmengine.config import config as config_module
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('mmtlsi', 'mmtlsi')

    original = config_module.get_installed_path
    if getattr(original, '__mmtlsi_wrapped__', False):
        return

    def get_installed_path(package: str) -> str:
        if package == 'mmtlsi':
            return _package_dir()
        return original(package)

    get_installed_path.__mmtlsi_wrapped__ = True
    config_module.get_installed_path = get_installed_path


def apply() -> None:
    """Apply every fix once. Safe to call many times."""
    global _applied
    if _applied:
        return
    check_torch_version()
    install_mmcv_ops_stand_in()
    enable_safe_checkpoint_loading()
    register_config_package()
    _applied = True
