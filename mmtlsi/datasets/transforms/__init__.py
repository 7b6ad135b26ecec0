"""Multi-task transforms (registered in mmseg's TRANSFORMS)."""
from .formatting import PackMultiTaskInputs
from .geometric import (
                        MultiTaskRandomCrop,
                        MultiTaskRandomFlip,
                        MultiTaskResize,
                        RandomScale,
)
from .loading import LoadMultiTaskAnnotations

__all__ = ['LoadMultiTaskAnnotations', 'MultiTaskResize', 'RandomScale',
           'MultiTaskRandomCrop', 'MultiTaskRandomFlip', 'PackMultiTaskInputs']
