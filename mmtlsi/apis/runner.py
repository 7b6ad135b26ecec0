"""The Runner of a run config, as the train and test tools build it."""
from __future__ import annotations

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.registry import RUNNERS

from mmtlsi.engine import init_cpu_process_group_if_needed
from mmtlsi.models import compile_network

from .checkpoint import (
    CheckpointMismatchError,
    checkpoint_state_dict,
    compare_state_dicts,
    describe_mismatch,
)


def build_runner(cfg: Config, launcher: str = 'none') -> Runner:
    """mmengine's Runner (or ``cfg.runner_type``) for ``cfg``; CPU processes
    started by a launcher get a gloo process group first.

    ``cfg.compile`` compiles the segmentor's tensor part for training and
    testing (:func:`mmtlsi.models.compile_network`). It is taken out of the
    config the Runner sees: mmengine's own switch compiles only
    ``train_step``, with mmengine's Python (where graphs break) inside.
    """
    if init_cpu_process_group_if_needed(launcher):
        cfg.setdefault('model_wrapper_cfg',
                       dict(type='CPUDistributedDataParallel'))
    compile_cfg = cfg.pop('compile', None)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg \
        else Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    compile_network(model, compile_cfg)
    return runner


def check_load_from(runner: Runner, cfg: Config) -> None:
    """Stop before anything runs when ``cfg.load_from`` does not fill the
    runner's model exactly, unless ``cfg.load_from_strict`` is False.

    mmengine loads ``load_from`` non-strictly: a checkpoint of another model
    would leave part of the weights random without an error."""
    filename = cfg.get('load_from')
    if not filename or not cfg.get('load_from_strict', True):
        return
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    state = checkpoint_state_dict(
        _load_checkpoint(filename, map_location='cpu'))
    message = describe_mismatch(
        filename, compare_state_dicts(model.state_dict(), state),
        f'the model of {cfg.filename}')
    if message:
        raise CheckpointMismatchError(
            message + '\nload it in part on purpose with --partial-load '
            '(load_from_strict = False in the config)')
