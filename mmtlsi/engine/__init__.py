from .checkpoint_io import AtomicLocalBackend, atomic_write_bytes
from .dist import CPUDistributedDataParallel, init_cpu_process_group_if_needed
from .hooks import MultiTaskVisualizationHook

__all__ = ['AtomicLocalBackend', 'CPUDistributedDataParallel',
           'MultiTaskVisualizationHook', 'atomic_write_bytes',
           'init_cpu_process_group_if_needed']
