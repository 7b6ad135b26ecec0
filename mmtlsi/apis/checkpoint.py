"""Loading a checkpoint into a model, strictly by default.

Every path that puts a trained checkpoint into a model (``init_model``, the
inferencer, ``tools/test.py``, ``load_from`` in training) goes through
:func:`load_model_checkpoint`: a file whose tensors do not fill the model
exactly (a key missing, an extra key, a shape that differs) stops with
:class:`CheckpointMismatchError` naming the file and the keys. A partial
load on purpose (fine-tuning from another task set, say) is asked for with
``strict=False`` (``--partial-load`` on the command line,
``load_from_strict = False`` in a config); what did not fit is then printed.
"""
from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint

#: how many keys of each kind an error lists before "... and N more"
MAX_KEYS = 8


class CheckpointMismatchError(RuntimeError):
    """A checkpoint that does not fit the model it is loaded into."""


def checkpoint_state_dict(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The model tensors of a loaded checkpoint (``state_dict`` unwrapped,
    DDP's ``module.`` prefix removed), as mmengine's loader reads them."""
    state = checkpoint.get('state_dict', checkpoint)
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()}


def compare_state_dicts(
        model_state: Mapping[str, torch.Tensor],
        file_state: Mapping[str, torch.Tensor]) -> Dict[str, List]:
    """What keeps ``file_state`` from filling ``model_state`` exactly.

    Returns ``missing`` (in the model, not in the file), ``unexpected`` (in
    the file only) and ``shape`` (``(key, file shape, model shape)``)."""
    missing = [k for k in model_state if k not in file_state]
    unexpected = [k for k in file_state if k not in model_state]
    shape = [(k, tuple(file_state[k].shape), tuple(v.shape))
             for k, v in model_state.items()
             if k in file_state and hasattr(file_state[k], 'shape')
             and tuple(file_state[k].shape) != tuple(v.shape)]
    return dict(missing=missing, unexpected=unexpected, shape=shape)


def _listing(items: List[str]) -> str:
    shown = ', '.join(items[:MAX_KEYS])
    more = len(items) - MAX_KEYS
    return shown + (f' ... and {more} more' if more > 0 else '')


def describe_mismatch(filename: str, diff: Mapping[str, List],
                      what: str = 'the model') -> Optional[str]:
    """A message naming ``filename`` and every kind of mismatch, or None
    when the file fits."""
    parts = []
    if diff['shape']:
        parts.append(f'{len(diff["shape"])} tensor(s) of another shape '
                     '(key: file vs model): ' + _listing(
                         [f'{k}: {list(a)} vs {list(b)}'
                          for k, a, b in diff['shape']]))
    if diff['missing']:
        parts.append(f'{len(diff["missing"])} key(s) of the model missing '
                     'from the file: ' + _listing(diff['missing']))
    if diff['unexpected']:
        parts.append(f'{len(diff["unexpected"])} key(s) in the file that '
                     'the model does not have: ' +
                     _listing(diff['unexpected']))
    if not parts:
        return None
    return (f'checkpoint {filename} does not fit {what}:\n  ' +
            '\n  '.join(parts))


def load_model_checkpoint(model: torch.nn.Module,
                          filename: str,
                          strict: bool = True,
                          map_location='cpu',
                          what: str = 'the model') -> Tuple[dict, dict]:
    """Load ``filename`` into ``model``.

    Args:
        model: the model (not a DDP wrapper).
        filename: local file or URL (mmengine's loaders).
        strict: stop with :class:`CheckpointMismatchError` unless the file
            fills the model exactly; with False, load what fits and print
            what did not.
        what: how the error names the model (e.g. the config).

    Returns:
        ``(checkpoint, diff)``: the loaded checkpoint dict and
        :func:`compare_state_dicts`' result.
    """
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointMismatchError(
            f'checkpoint {filename} holds a {type(checkpoint).__name__}, '
            'not a state dict')
    state = checkpoint_state_dict(checkpoint)
    diff = compare_state_dicts(model.state_dict(), state)
    message = describe_mismatch(filename, diff, what)
    if message and strict:
        raise CheckpointMismatchError(
            message + '\nload it in part on purpose with strict=False '
            '(--partial-load, or load_from_strict = False in a config)')
    if message:
        print_log('partial load: ' + message, logger='current')
        skip = {k for k, _, _ in diff['shape']}
        state = {k: v for k, v in state.items() if k not in skip}
    model.load_state_dict(state, strict=False)
    return dict(checkpoint), diff
