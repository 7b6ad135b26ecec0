"""mmtlsi's runner hooks, one module each."""
from .checkpoint_hook import AtomicCheckpointHook, NonFiniteStateError
from .inference_dtype_hook import InferenceDtypeHook
from .preemption_hook import PREEMPTED_EXIT_CODE, PreemptionHook
from .resume_check_hook import ResumeCheckHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = ['AtomicCheckpointHook', 'InferenceDtypeHook',
           'MultiTaskVisualizationHook',
           'NonFiniteStateError', 'PREEMPTED_EXIT_CODE', 'PreemptionHook',
           'ResumeCheckHook']
