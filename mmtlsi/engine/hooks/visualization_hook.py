"""Drawing validation and test samples."""
from __future__ import annotations

import os.path as osp
from typing import Sequence

import mmcv
from mmengine import fileio
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.structures import SegDataSample

from mmtlsi.registry import HOOKS


@HOOKS.register_module()
class MultiTaskVisualizationHook(SegVisualizationHook):
    """Draws every ``interval``-th validation / test sample with the
    visualizer (``MultiTaskVisualizer`` in mmtlsi's configs).

    Same options as mmseg's ``SegVisualizationHook``. Unlike it, drawing
    during ``tools/test.py`` does not read ``runner.iter``, which makes the
    Runner build the training loop, and with it the training dataset, in a
    test-only run (slow, and an error where only the test split exists).
    Pictures are named ``<mode>_<image name>_<step>.png``.
    """

    def _after_iter(self, runner, batch_idx: int, data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        if self.draw is False or mode == 'train':
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        step = runner.iter if mode == 'val' else 0
        for output in outputs:
            img_bytes = fileio.get(output.img_path,
                                   backend_args=self.backend_args)
            img = mmcv.imfrombytes(img_bytes, channel_order='rgb')
            name = osp.splitext(osp.basename(output.img_path))[0]
            self._visualizer.add_datasample(
                f'{mode}_{name}', img, data_sample=output, show=self.show,
                wait_time=self.wait_time, step=step)
