from .checkpoint_io import (
    AtomicLocalBackend,
    WorkDirLock,
    atomic_write_bytes,
    find_resume_checkpoint,
)
from .dist import (
    CPUDistributedDataParallel,
    closing_process_group,
    init_cpu_process_group_if_needed,
)
from .hooks import (
    PREEMPTED_EXIT_CODE,
    AtomicCheckpointHook,
    MultiTaskVisualizationHook,
    NonFiniteStateError,
    PreemptionHook,
    ResumeCheckHook,
)
from .nonfinite import (
    NonFiniteGuardAmpOptimWrapper,
    NonFiniteGuardConstructor,
    NonFiniteGuardOptimWrapper,
    NonFiniteLossError,
)

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend',
           'CPUDistributedDataParallel', 'MultiTaskVisualizationHook',
           'NonFiniteGuardAmpOptimWrapper', 'NonFiniteGuardConstructor',
           'NonFiniteGuardOptimWrapper', 'NonFiniteLossError',
           'NonFiniteStateError', 'PREEMPTED_EXIT_CODE', 'PreemptionHook',
           'ResumeCheckHook', 'WorkDirLock', 'atomic_write_bytes',
           'closing_process_group', 'find_resume_checkpoint',
           'init_cpu_process_group_if_needed']
