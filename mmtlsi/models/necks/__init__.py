from .cross_task_attention import CrossTaskAttention
from .mt_mqlfb import MTMQLFB

__all__ = ['CrossTaskAttention', 'MTMQLFB']
