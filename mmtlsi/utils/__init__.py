from .arrays import to_numpy
from .complexity import count_flops, count_parameters
from .files import naming_path

__all__ = ['count_flops', 'count_parameters', 'naming_path', 'to_numpy']
