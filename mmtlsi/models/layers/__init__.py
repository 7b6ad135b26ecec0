"""MTLSI-Net's layers in the order of Fig. 1: task decoders (preliminary and
output), MT-MQLFB (or the quadratic fusion), the Semantic Token Distiller and
CWIB, with their pure helpers (linear attention, windows, head split)."""
from .cross_task_attention import CrossTaskAttention
from .cwib import CWIB, RelativePositionBias
from .linear_attention import elu_feature_map, linear_attention_context
from .mt_mqlfb import MTMQLFB, tasks_to_tokens
from .multi_head import merge_heads, split_heads
from .pointwise import PointwiseConv2d
from .task_decoder import TaskDecoder
from .token_distiller import SemanticTokenDistiller
from .windows import pad_to_windows, window_partition, window_reverse

__all__ = ['CWIB', 'CrossTaskAttention', 'MTMQLFB', 'PointwiseConv2d',
           'RelativePositionBias',
           'SemanticTokenDistiller', 'TaskDecoder', 'elu_feature_map',
           'linear_attention_context', 'merge_heads', 'pad_to_windows',
           'split_heads', 'tasks_to_tokens', 'window_partition',
           'window_reverse']
