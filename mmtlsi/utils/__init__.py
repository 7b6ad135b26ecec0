from .arrays import to_numpy
from .complexity import count_flops, count_parameters

__all__ = ['count_flops', 'count_parameters', 'to_numpy']
