"""Load a backbone's ImageNet weights, all of them, or stop with an error.

``init_cfg=dict(type='StrictPretrained', checkpoint='https://...pth')`` on a
backbone loads the file when the runner initialises the model. What
mmengine's ``Pretrained`` does not, this does: a backbone tensor the file
does not fill, or a file tensor that fills nothing, is an error naming the
keys and the file (only :data:`ALLOWED_ABSENT` / :data:`ALLOWED_UNUSED` and
the config's ``allow_missing`` regexes pass); the official Swin release is
converted to the mm layout with mmseg's converter; a URL is fetched once per
node (its local rank 0), read with torch's safe loader. See docs/backbones.md.
"""
from __future__ import annotations

import importlib.util
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Iterable
from urllib.parse import urlparse

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_dist_info
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmseg.registry import WEIGHT_INITIALIZERS

DOC = 'docs/backbones.md'
OVERRIDE = 'model.backbone.init_cfg.checkpoint'

# Backbone keys a checkpoint may lack: (backbone class, regex, why).
ALLOWED_ABSENT = (
    ('SwinTransformer', r'norm[0-2]\.(weight|bias)',
     'output norms of stages 0-2: added for dense prediction, an ImageNet '
     'classifier has only the last one (norm3)'),
    ('SwinTransformer', r'stages\.\d+\.blocks\.\d+\.attn\.w_msa\.'
     r'relative_position_index',
     'derived from the window size; mmpretrain drops it from the file when '
     'it interpolates the position bias table to another window size'),
)
# Checkpoint keys that fill no backbone parameter: (class or None: any).
ALLOWED_UNUSED = (
    (None, r'head\..*', 'classifier head'),
    (None, r'neck\..*', 'classifier neck'),
    ('SwinTransformer', r'stages\.\d+\.blocks\.\d+\.attn_mask',
     'attention-mask buffers; the backbone computes them from the input size'),
)


class BackboneWeightsError(RuntimeError):
    """The backbone's checkpoint cannot be read, or does not fill it."""


def hub_cache_path(url: str) -> str:
    """Where ``torch.hub`` keeps (and looks for) the file of ``url``."""
    name = osp.basename(urlparse(url).path)
    return osp.join(torch.hub.get_dir(), 'checkpoints', name)


def _download_help(url: str) -> str:
    return (f'Fetch it on a machine with internet access, e.g. '
            f'`wget {url}`, copy it here, and either point the config at the '
            f'copy with `--cfg-options {OVERRIDE}=PATH` or put it at '
            f'{hub_cache_path(url)} (torch.hub\'s cache, read before any '
            f'download). See {DOC}.')


def _fetch(url: str) -> str:
    """Download ``url`` into torch.hub's cache once per node (local rank 0,
    as torchrun and Slurm set ``LOCAL_RANK``; the others wait), shared or
    node-local cache alike; a failure on any node stops every rank with the
    same advice. Returns the local path."""
    path = hub_cache_path(url)
    rank, world_size = get_dist_info()
    local_rank = int(os.environ.get('LOCAL_RANK', rank)) \
        if world_size > 1 else 0
    failure = None
    if local_rank == 0 and not osp.isfile(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
        print_log(f'Downloading {url} to {path}', logger='current')
        try:
            torch.hub.download_url_to_file(url, path, progress=False)
        except Exception as err:  # any network or HTTP failure
            failure = err
    failed = failure is not None or not osp.isfile(path)
    if world_size > 1:
        flag = torch.tensor([int(failed)])
        all_reduce(flag, op='max')   # also the barrier: everyone waits
        failed = bool(flag.item())
    if failed:
        why = (f' ({type(failure).__name__}: {failure})' if failure else
               ': the download failed on a node (see the log of its local '
               'rank 0)')
        raise BackboneWeightsError(
            f'Could not download the backbone checkpoint {url} to {path}'
            f'{why}. {_download_help(url)}') from failure
    return path


def read_checkpoint(checkpoint: str) -> dict:
    """Read a local file or URL with torch's safe loader."""
    path = _fetch(checkpoint) if checkpoint.startswith(
        ('http://', 'https://')) else osp.expanduser(checkpoint)
    if not osp.isfile(path):
        raise BackboneWeightsError(
            f'The backbone checkpoint {checkpoint} does not exist. Set '
            f'`--cfg-options {OVERRIDE}=PATH` to the file (see {DOC}).')
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:
        raise BackboneWeightsError(
            f'Could not read the backbone checkpoint {path} with torch\'s '
            f'safe loader ({type(err).__name__}: {err}).') from err
    if not isinstance(loaded, dict):
        raise BackboneWeightsError(
            f'The backbone checkpoint {path} holds a {type(loaded).__name__}, '
            f'not a dict of tensors.')
    return loaded


def backbone_state_dict(checkpoint: dict) -> OrderedDict[str, torch.Tensor]:
    """The tensors of a checkpoint's ``state_dict`` / ``model`` entry (or of
    the checkpoint), ``module.`` stripped; when keys start with
    ``backbone.``, only those, without the prefix."""
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
            break
    state = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in checkpoint.items() if isinstance(v, torch.Tensor))
    if any(k.startswith('backbone.') for k in state):
        state = OrderedDict((k[len('backbone.'):], v)
                            for k, v in state.items()
                            if k.startswith('backbone.'))
    return state


def is_official_swin(state: dict) -> bool:
    """The layout of the Swin Transformer authors' release."""
    return 'patch_embed.proj.weight' in state and any(
        k.startswith('layers.') for k in state)


def _mmseg_swin_converter():
    """``convert_swin`` of mmseg's ``tools/model_converters/swin2mmseg.py``.

    mmseg ships it only as a script in its package data (``mmseg/.mim``, not
    importable by name), so it is loaded from its file, not copied."""
    import mmseg
    package = osp.dirname(mmseg.__file__)
    relative = osp.join('tools', 'model_converters', 'swin2mmseg.py')
    for path in (osp.join(package, '.mim', relative),
                 osp.join(osp.dirname(package), relative)):
        if osp.isfile(path):
            spec = importlib.util.spec_from_file_location(
                'mmseg_swin2mmseg', path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.convert_swin
    raise BackboneWeightsError(
        f'mmseg\'s Swin converter ({relative}) is not in the installed '
        f'mmseg ({package}); reinstall mmsegmentation from its wheel.')


def rename_final_swin_norm(state: dict, num_stages: int = 4) -> OrderedDict:
    """``norm.*`` (after the last stage) -> ``norm{num_stages - 1}.*``, as
    mmpretrain's Swin does for files without version metadata."""
    last = f'norm{num_stages - 1}.'
    return OrderedDict(
        (last + k[len('norm.'):] if k.startswith('norm.') else k, v)
        for k, v in state.items())


def official_swin_to_mm(state: dict, num_stages: int = 4) -> OrderedDict:
    """Official Swin release -> mm Swin keys: mmseg's ``convert_swin``
    (key renames, patch-merging channel order, ``head.*`` dropped), then
    the final norm's name."""
    return rename_final_swin_norm(_mmseg_swin_converter()(state), num_stages)


def to_mm_layout(state: dict, backbone: nn.Module | None = None
                 ) -> tuple[OrderedDict, str]:
    """``state`` in the mm layout, and the name of the layout it came in."""
    num_stages = len(getattr(backbone, 'stages', range(4)))
    if is_official_swin(state):
        return official_swin_to_mm(state, num_stages), 'official Swin'
    if type(backbone).__name__ == 'SwinTransformer':
        return rename_final_swin_norm(state, num_stages), 'mm'
    return OrderedDict(state), 'mm'


def _rules(table, backbone: nn.Module) -> list[str]:
    return [regex for cls, regex, _ in table
            if cls in (None, type(backbone).__name__)]


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(re.fullmatch(p, key) for p in patterns)


def _short(keys: list[str], limit: int = 20) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit
                    else '')


def _window_of_table(table: torch.Tensor) -> int:
    """Window size of a (2w-1)^2 x heads relative-position-bias table."""
    return (round(table.shape[0]**0.5) + 1) // 2


def _shape_mismatches(backbone: nn.Module, state: dict):
    """('key (file shape) in the file, (shape) in the backbone' for each
    unusable tensor, [(key, file window, backbone window)] for the position
    bias tables of another window that mmpretrain's Swin resizes while
    loading, dropping their index buffers)."""
    own = backbone.state_dict()
    resizes = hasattr(backbone, '_prepare_relative_position_bias_table')
    wrong, resized = [], []
    for key, value in state.items():
        if key not in own or own[key].shape == value.shape:
            continue
        if (resizes and key.endswith('relative_position_bias_table')
                and value.ndim == own[key].ndim == 2
                and value.shape[1] == own[key].shape[1]):
            resized.append((key, _window_of_table(value),
                            _window_of_table(own[key])))
        else:
            wrong.append(key)
    dropped = {key.replace('bias_table', 'index') for key, _, _ in resized}
    wrong = [f'{key} {tuple(state[key].shape)} in the file, '
             f'{tuple(own[key].shape)} in the backbone'
             for key in wrong if key not in dropped]
    return wrong, resized


def load_backbone_weights(backbone: nn.Module, checkpoint: str,
                          allow_missing: Iterable[str] = ()) -> dict:
    """Fill ``backbone`` from ``checkpoint`` (path or http(s) URL) or raise
    BackboneWeightsError; ``allow_missing``: regexes (full match) of keys
    the file may lack besides :data:`ALLOWED_ABSENT`. Returns
    ``dict(layout=..., loaded=[keys], absent=[keys], unused=[keys])``."""
    state = backbone_state_dict(read_checkpoint(checkpoint))
    if not state:
        raise BackboneWeightsError(
            f'The backbone checkpoint {checkpoint} holds no tensors.')
    state, layout = to_mm_layout(state, backbone)
    name = type(backbone).__name__
    where = (f'The backbone checkpoint {checkpoint} ({layout} layout) does '
             f'not fit {name}')
    wrong, resized = _shape_mismatches(backbone, state)
    if wrong:
        raise BackboneWeightsError(
            f'{where}: {len(wrong)} tensors have another shape: '
            f'{_short(wrong, 5)}. Is it the checkpoint of this '
            f'architecture?')
    try:
        result = backbone.load_state_dict(state, strict=False)
    except Exception as err:
        cause = f'{type(err).__name__}: {str(err).strip().splitlines()[0]}'
        if resized:
            key, file_window, own_window = resized[0]
            raise BackboneWeightsError(
                f'{where}: its {len(resized)} relative-position-bias tables '
                f'are for window {file_window}, the backbone\'s for window '
                f'{own_window} (e.g. {key}), and resizing them while loading '
                f'failed ({cause}). Use a checkpoint made for window '
                f'{own_window}, or set model.backbone.window_size='
                f'{file_window}.') from err
        raise BackboneWeightsError(f'{where}: {cause}') from err
    missing = list(result.missing_keys)
    unexpected = [k for k in result.unexpected_keys
                  if not _matches(k, _rules(ALLOWED_UNUSED, backbone))]
    absent_ok = _rules(ALLOWED_ABSENT, backbone) + list(allow_missing)
    not_filled = [k for k in missing if not _matches(k, absent_ok)]
    if not_filled or unexpected:
        lines = [f'The backbone checkpoint {checkpoint} ({layout} layout) '
                 f'does not fill {name}:']
        if not_filled:
            lines.append(f'  {len(not_filled)} backbone keys have no value '
                         f'in the file: {_short(not_filled)}')
        if unexpected:
            lines.append(f'  {len(unexpected)} keys of the file fit no '
                         f'backbone key: {_short(unexpected)}')
        lines.append(f'  Is it the checkpoint of this architecture? A '
                     f'deliberate partial load lists the keys it leaves '
                     f'out in init_cfg.allow_missing (see {DOC}).')
        raise BackboneWeightsError('\n'.join(lines))
    loaded = [k for k in backbone.state_dict()
              if k not in missing and k in state]
    return dict(layout=layout, loaded=loaded, absent=missing,
                unused=list(result.unexpected_keys))


@WEIGHT_INITIALIZERS.register_module()
class StrictPretrained:
    """mmengine weight initializer: every backbone tensor from the file.

    ``checkpoint``: local path or http(s) URL; ``allow_missing``: regexes of
    backbone keys the file may lack (an explicit partial load).

    mmengine runs an init_cfg of a type other than ``'Pretrained'`` before
    the children's own ``init_weights``, which would then overwrite the
    weights (mmpretrain's ``WindowMSA.init_weights`` redraws the position
    bias tables); so the children initialise themselves first, then the
    file is loaded.
    """

    def __init__(self, checkpoint: str, allow_missing: Iterable[str] = ()):
        if not checkpoint:
            raise BackboneWeightsError(
                'StrictPretrained needs a checkpoint; to train the backbone '
                'from scratch set init_cfg=None.')
        self.checkpoint = checkpoint
        self.allow_missing = tuple(allow_missing)

    def __call__(self, module: nn.Module) -> None:
        if getattr(module, 'zero_init_residual', False):
            # mmpretrain's ResNet-like backbones zero their residual norms
            # after any init_cfg but type 'Pretrained': the file's values
            raise BackboneWeightsError(
                f'{type(module).__name__} has zero_init_residual=True, which '
                f'would zero its residual blocks\' last norms after '
                f'loading {self.checkpoint}; set '
                f'model.backbone.zero_init_residual=False.')
        for child in module.children():
            if hasattr(child, 'init_weights') and not getattr(
                    child, 'is_init', False):
                child.init_weights()
                child.is_init = True
        report = load_backbone_weights(module, self.checkpoint,
                                       self.allow_missing)
        print_log(
            f'{type(module).__name__}: {len(report["loaded"])} tensors loaded '
            f'from {self.checkpoint} ({report["layout"]} layout); not in '
            f'the file (allowed): {_short(report["absent"], 8) or "none"}',
            logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(
                module,
                init_info=f'StrictPretrained: loaded from {self.checkpoint}')
