"""Process-group set-up for launchers on machines without a GPU.

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` before it
creates the process group, which fails where no NVIDIA driver exists. On
such machines the group is created here with the ``gloo`` backend before the
Runner starts; the Runner then sees an initialised group and skips its own.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


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
    dist.init_process_group(
        backend='gloo', rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))
    return True


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
