from .metric_kinds import (
    METRIC_KINDS,
    MetricKind,
    build_metric_kind,
    register_metric_kind,
    result_higher_is_better,
)
from .multi_task_metric import MultiTaskMetric, image_id

__all__ = ['METRIC_KINDS', 'MetricKind', 'build_metric_kind',
           'register_metric_kind', 'result_higher_is_better',
           'MultiTaskMetric', 'image_id']
