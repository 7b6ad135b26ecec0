"""Drawing multi-task predictions and ground truth."""
from .colors import (
    colorize_depth,
    colorize_gray,
    colorize_labels,
    colorize_normals,
    default_palette,
    depth_range,
    label_color,
    palette_for_task,
)
from .multitask_visualizer import MultiTaskVisualizer

__all__ = [
    'MultiTaskVisualizer', 'colorize_depth', 'colorize_gray',
    'colorize_labels', 'colorize_normals', 'default_palette', 'depth_range',
    'label_color', 'palette_for_task'
]
