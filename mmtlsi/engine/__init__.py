from .checkpoint_io import (
    AtomicLocalBackend,
    WorkDirLock,
    atomic_write_bytes,
    find_resume_checkpoint,
)
from .dist import CPUDistributedDataParallel, init_cpu_process_group_if_needed
from .hooks import AtomicCheckpointHook, MultiTaskVisualizationHook

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend',
           'CPUDistributedDataParallel', 'MultiTaskVisualizationHook',
           'WorkDirLock', 'atomic_write_bytes', 'find_resume_checkpoint',
           'init_cpu_process_group_if_needed']
