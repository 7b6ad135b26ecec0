"""Procedural scenes (:mod:`.scene`) written in real dataset layouts
(:mod:`.writer`), for the synthetic datasets of ``datasets/synthetic.py``."""
from .scene import render_scene, sample_scene
from .writer import (
    NYUD_CLASSES,
    PASCAL_CLASSES,
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
    write_mat,
)

__all__ = ['render_scene', 'sample_scene', 'NYUD_CLASSES', 'PASCAL_CLASSES',
           'ensure_synthetic_dataset', 'generate_synthetic_dataset',
           'write_mat']
