"""Multi-task datasets and transforms (registered in mmseg's registries)."""
from . import decoders  # noqa: F401
from .base import MultiTaskSegDataset
from .nyud import NYUDv2Dataset
from .pascal_context import PascalContextMTDataset
from .synthesis import generate_synthetic_dataset
from .synthetic import SyntheticNYUDv2Dataset, SyntheticPascalContextDataset
from .transforms import (
                        LoadMultiTaskAnnotations,
                        MultiTaskRandomCrop,
                        MultiTaskRandomFlip,
                        MultiTaskResize,
                        PackMultiTaskInputs,
                        RandomScale,
)

__all__ = [
    'MultiTaskSegDataset', 'NYUDv2Dataset', 'PascalContextMTDataset',
    'SyntheticNYUDv2Dataset', 'SyntheticPascalContextDataset',
    'generate_synthetic_dataset', 'LoadMultiTaskAnnotations',
    'MultiTaskResize', 'RandomScale', 'MultiTaskRandomCrop',
    'MultiTaskRandomFlip', 'PackMultiTaskInputs'
]
