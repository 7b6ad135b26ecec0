from .mtlsi_head import MTLSIHead

__all__ = ['MTLSIHead']
