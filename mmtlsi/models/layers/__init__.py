from .cwib import CWIB, RelativePositionBias
from .linear_attention import (
                               elu_feature_map,
                               linear_attention,
                               linear_attention_apply,
                               linear_attention_context,
)
from .task_decoder import TaskDecoder
from .token_distiller import SemanticTokenDistiller
from .window_attention import pad_to_windows, window_partition, window_reverse

__all__ = ['CWIB', 'RelativePositionBias', 'SemanticTokenDistiller',
           'TaskDecoder',
           'elu_feature_map', 'linear_attention', 'linear_attention_apply',
           'linear_attention_context', 'pad_to_windows', 'window_partition',
           'window_reverse']
