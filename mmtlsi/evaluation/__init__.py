"""Evaluation: the field's metrics, the paper's tables, edge export, the
constant predictor every model must beat."""
from . import functional  # noqa: F401
from .constant_baseline import ConstantPredictor
from .edge_export import EdgeExportHook, export_edge_predictions, save_edge_png
from .metrics import MultiTaskMetric
from .report import (
    comparison_table,
    dump_results,
    format_results_table,
    load_results,
    results_record,
    write_benchmark_table,
)

__all__ = ['functional', 'ConstantPredictor', 'MultiTaskMetric',
           'EdgeExportHook', 'export_edge_predictions', 'save_edge_png',
           'comparison_table', 'dump_results', 'format_results_table',
           'load_results', 'results_record', 'write_benchmark_table']
