from .multi_task_metric import LOWER_IS_BETTER, MultiTaskMetric, image_id

__all__ = ['LOWER_IS_BETTER', 'MultiTaskMetric', 'image_id']
