"""Metric functions of the multi-task dense-prediction benchmarks.

NumPy in, numbers / dicts out; importable without mmengine. Every metric
family is split into per-image *sufficient statistics* (confusion matrices,
sums, per-threshold counts, histograms) that add up over disjoint image sets,
and a function that turns the pooled statistics into scores, so that results
are pooled over the dataset (never a mean of per-image or per-process means).
"""
from mmtlsi.utils.edge_maps import quantize_edge_map, thin

from .boundary import (
                       boundary_counts,
                       boundary_scores,
                       edge_thresholds,
                       gt_boundary_map,
                       match_count,
                       seg2bmap,
)
from .boundary_nms import edge_nms
from .depth import depth_metrics, depth_stats
from .multi_task import delta_m, load_references
from .normals import (
                       angular_error,
                       merge_normal_stats,
                       normal_metrics,
                       normal_stats,
)
from .saliency import SAL_THRESHOLDS, saliency_counts, saliency_metrics
from .segmentation import confusion_matrix, miou

__all__ = [
    'boundary_counts', 'boundary_scores', 'edge_nms', 'edge_thresholds',
    'gt_boundary_map', 'match_count', 'quantize_edge_map', 'seg2bmap', 'thin',
    'depth_metrics', 'depth_stats', 'delta_m', 'load_references',
    'angular_error', 'merge_normal_stats', 'normal_metrics', 'normal_stats',
    'SAL_THRESHOLDS', 'saliency_counts', 'saliency_metrics',
    'confusion_matrix', 'miou',
]
