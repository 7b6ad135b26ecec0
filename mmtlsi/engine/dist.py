"""Process-group set-up for launchers on machines without a GPU.

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` before it
creates the process group, which fails where no NVIDIA driver exists. On
such machines the group is created here with the ``gloo`` backend before the
Runner starts; the Runner then sees an initialised group and skips its own.

The group's key-value store is torchrun's (or rank 0's) TCP store under a
prefix per restart attempt (``TORCHELASTIC_RESTART_COUNT``): after torchrun
restarts a failed group, the new workers share the store with the keys the
previous attempt left (gloo's peer addresses among them), and without the
prefix they read those and fail to connect.

A process that ends with its gloo group still alive can abort while Python
shuts down (``terminate called without an active exception``, exit -6 after
a finished run): the train and test tools close the group first
(:func:`closing_process_group`).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import timedelta

import torch
import torch.distributed as dist


def attempt_store(rank: int, world_size: int,
                  timeout: timedelta = timedelta(minutes=30)):
    """The launcher's TCP store at ``MASTER_ADDR:MASTER_PORT``, its keys
    prefixed by the restart attempt.

    Under torchrun the agent hosts the store (``TORCHELASTIC_USE_AGENT_STORE``)
    and every rank is a client; otherwise rank 0 hosts it.
    """
    agent_hosts = os.environ.get('TORCHELASTIC_USE_AGENT_STORE') == 'True'
    store = dist.TCPStore(
        os.environ['MASTER_ADDR'], int(os.environ['MASTER_PORT']),
        world_size, is_master=not agent_hosts and rank == 0,
        timeout=timeout, multi_tenant=True)
    attempt = os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')
    return dist.PrefixStore(f'mmtlsi/attempt_{attempt}/', store)


def init_cpu_process_group_if_needed(launcher: str) -> bool:
    """Create a gloo process group for ``launcher='pytorch'`` without CUDA.

    Returns True when a group was created here.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    if dist.is_available() and dist.is_initialized():
        return False
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch needs the environment variables '
            f'{", ".join(missing)}; start the job with torchrun '
            f'(tools/dist_train.sh does).')
    rank, world_size = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
    dist.init_process_group(
        backend='gloo', store=attempt_store(rank, world_size), rank=rank,
        world_size=world_size)
    return True


@contextmanager
def closing_process_group():
    """Destroy the default process group when the block ends: normally, or
    by the preemption exit every rank takes together.

    Any other exception leaves the group alone: the other ranks may still
    be in a collective, and destroying the group could hang this one.
    """
    from .hooks.preemption_hook import PREEMPTED_EXIT_CODE
    try:
        yield
    except SystemExit as e:
        if e.code == PREEMPTED_EXIT_CODE:
            _destroy_default_group()
        raise
    _destroy_default_group()


def _destroy_default_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _register_cpu_ddp():
    from mmengine.model import MMDistributedDataParallel

    # the Runner looks wrappers up in mmengine's root registry
    from mmengine.registry import MODEL_WRAPPERS

    @MODEL_WRAPPERS.register_module()
    class CPUDistributedDataParallel(MMDistributedDataParallel):
        """``MMDistributedDataParallel`` for modules that live on the CPU.

        The Runner passes ``device_ids=[LOCAL_RANK]``, which torch's DDP
        rejects for CPU modules; they are dropped here.
        """

        def __init__(self, module, device_ids=None, **kwargs):
            on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
            super().__init__(
                module=module, device_ids=None if on_cpu else device_ids,
                **kwargs)

    return CPUDistributedDataParallel


CPUDistributedDataParallel = _register_cpu_ddp()
