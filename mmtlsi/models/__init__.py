from . import data_preprocessor  # noqa: F401
