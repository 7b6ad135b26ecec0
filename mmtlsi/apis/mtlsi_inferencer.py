"""``MTLSIInferencer``: every task of a multi-task model on images, folders or
arrays, in the manner of MMSegmentation's ``MMSegInferencer``.

    inferencer = MTLSIInferencer('configs/mtlsi/swin-t_nyud.py', 'w.pth')
    result = inferencer('demo.png', out_dir='outputs')
    result['predictions']['depth']        # HxW float32 (metres)

The checkpoint is loaded strictly (``strict=False`` allows a partial load).
``out_dir`` receives ``vis/<name>.png`` (the picture of every task) and
``pred/<name>_<task>.png|npy`` (each task's raw prediction: class maps as
PNG, float maps as NPY); ``img_out_dir=''`` or ``pred_out_dir=''`` leaves
one out. A progress bar runs over the inputs (``show_progress``).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.infer.infer import BaseInferencer
from mmengine.registry import init_default_scope

from .inference import get_test_pipeline_cfg, init_model

InputType = Union[str, np.ndarray]
#: the files of a folder input that are read as images
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def model_index_entry(name: str) -> str:
    """The config file of a model of mmtlsi's model index (``mim search``)."""
    import yaml

    import mmtlsi
    mim = osp.join(osp.dirname(mmtlsi.__file__), '.mim')
    with open(osp.join(mim, 'model-index.yml'), encoding='utf-8') as f:
        metafiles = yaml.safe_load(f)['Import']
    known = []
    for metafile in metafiles:
        with open(osp.join(mim, metafile), encoding='utf-8') as f:
            for model in yaml.safe_load(f)['Models']:
                known.append(model['Name'])
                if model['Name'] == name:
                    return osp.join(mim, model['Config'])
    raise ValueError(f'{name} is neither a config file nor a model of '
                     f'mmtlsi\'s model index ({", ".join(known[:6])}, ...)')


def raw_prediction(data) -> np.ndarray:
    """A task's prediction as an array: HxW for one channel, HxWxC else."""
    array = data.cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


class MTLSIInferencer(BaseInferencer):
    """Predict every task of a multi-task model (an mmengine
    ``BaseInferencer``).

    Args:
        model: config file, ``Config``, or a name of mmtlsi's model index.
        weights: checkpoint file (None: the model keeps its initial weights).
        device: ``'cpu'``, ``'cuda:0'``... (default: mmengine's choice).
        strict: a checkpoint that does not fill the model exactly raises
            :class:`~mmtlsi.apis.checkpoint.CheckpointMismatchError`.
        cfg_options: config overrides, checked like ``--cfg-options``.
        show_progress: a progress bar over the inputs.
    """
    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs = {'show', 'wait_time', 'img_out_dir', 'return_vis',
                        'alpha'}
    postprocess_kwargs = {'pred_out_dir'}

    def __init__(self,
                 model: Union[str, Config],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 strict: bool = True,
                 cfg_options: Optional[dict] = None,
                 show_progress: bool = True) -> None:
        self._strict = strict
        self._cfg_options = cfg_options
        if isinstance(model, str) and not osp.isfile(model):
            model = model_index_entry(model)
        init_default_scope('mmseg')
        super().__init__(model, weights, device, scope='mmseg',
                         show_progress=show_progress)
        self.cfg = self.model.cfg

    def _init_model(self, cfg, weights, device):
        return init_model(Config(cfg) if isinstance(cfg, dict) else cfg,
                          weights, device=device or 'cpu',
                          cfg_options=self._cfg_options, strict=self._strict)

    def _init_pipeline(self, cfg) -> callable:
        cfg = self.model.cfg
        from_path = Compose(get_test_pipeline_cfg(cfg))
        from_array = Compose(get_test_pipeline_cfg(cfg, from_array=True))

        def pipeline(item):
            if isinstance(item, np.ndarray):
                return from_array(dict(img=item))
            return from_path(dict(img_path=str(item)))

        return pipeline

    def _init_collate(self, cfg):
        from mmengine.dataset import pseudo_collate
        return pseudo_collate

    def _init_visualizer(self, cfg):
        from mmtlsi.visualization import MultiTaskVisualizer
        visualizer = MultiTaskVisualizer(
            name=f'mtlsi_inferencer_{id(self)}',
            task_cfg=self.model.cfg.get('task_cfg'))
        visualizer.dataset_meta = dict(self.model.dataset_meta or {})
        return visualizer

    def _inputs_to_list(self, inputs) -> list:
        if isinstance(inputs, str) and osp.isdir(inputs):
            return [osp.join(inputs, f) for f in sorted(os.listdir(inputs))
                    if f.lower().endswith(IMAGE_SUFFIXES)]
        return super()._inputs_to_list(inputs)

    @staticmethod
    def _names(inputs: Sequence[InputType], start: int) -> List[str]:
        return [osp.splitext(osp.basename(x))[0] if isinstance(x, str)
                else f'{start + i:08d}' for i, x in enumerate(inputs)]

    def visualize(self, inputs: list, preds: list, show: bool = False,
                  wait_time: float = 0, img_out_dir: str = '',
                  return_vis: bool = False,
                  alpha: float = 1.0) -> Optional[List[np.ndarray]]:
        """One picture per input (RGB): every task's prediction."""
        if not (show or img_out_dir or return_vis):
            return None
        self.visualizer.alpha = alpha
        pictures = []
        for name, item, pred in zip(self._names(inputs, 0), inputs, preds):
            image = mmcv.imread(item, channel_order='rgb') \
                if isinstance(item, str) else np.ascontiguousarray(
                    item[..., ::-1])      # arrays are BGR, as mmcv reads
            out_file = osp.join(img_out_dir, f'{name}.png') \
                if img_out_dir else None
            pictures.append(self.visualizer.add_datasample(
                name, image, pred, draw_gt=False, show=show,
                wait_time=wait_time, out_file=out_file))
        return pictures

    def postprocess(self, preds: list, visualization, return_datasamples:
                    bool = False, pred_out_dir: str = '') -> dict:
        """``predictions``: per input a dict task -> array (HxW, or HxWx3
        for normals), or the ``SegDataSample`` with ``return_datasamples``;
        one input gives one entry, not a list. ``visualization``: the
        pictures, or None."""
        specs = self.model.task_specs
        names = self._names(self._last_inputs, 0)
        predictions = []
        for name, pred in zip(names, preds):
            maps = {t: raw_prediction(pred.get(s.pred_field).data)
                    for t, s in specs.items() if s.pred_field in pred}
            if pred_out_dir:
                self.save_raw(maps, pred_out_dir, name)
            predictions.append(pred if return_datasamples else maps)
        if len(predictions) == 1:
            predictions = predictions[0]
        return dict(predictions=predictions, visualization=visualization)

    def save_raw(self, maps: Dict[str, np.ndarray], folder: str,
                 name: str) -> None:
        """Class maps as PNG (uint8, uint16 past 255 classes), float maps
        (depth, normals, probabilities) as NPY."""
        os.makedirs(folder, exist_ok=True)
        for task, array in maps.items():
            if np.issubdtype(array.dtype, np.integer):
                dtype = np.uint8 if array.max(initial=0) < 256 else np.uint16
                mmcv.imwrite(array.astype(dtype),
                             osp.join(folder, f'{name}_{task}.png'))
            else:
                np.save(osp.join(folder, f'{name}_{task}.npy'), array)

    def __call__(self, inputs, return_datasamples: bool = False,
                 batch_size: int = 1, out_dir: str = '',
                 img_out_dir: str = 'vis', pred_out_dir: str = 'pred',
                 **kwargs) -> dict:
        """Predict ``inputs`` (a file, a folder, an HxWx3 BGR array, or a
        list of files / arrays). With ``out_dir``, the pictures go to
        ``out_dir/img_out_dir`` and the raw predictions to
        ``out_dir/pred_out_dir`` (an empty name: not written). Other keyword
        arguments: ``show``, ``wait_time``, ``return_vis``, ``alpha``."""
        self._last_inputs = self._inputs_to_list(inputs)
        kwargs['img_out_dir'] = osp.join(out_dir, img_out_dir) \
            if out_dir and img_out_dir else ''
        kwargs['pred_out_dir'] = osp.join(out_dir, pred_out_dir) \
            if out_dir and pred_out_dir else ''
        return super().__call__(self._last_inputs, return_datasamples,
                                batch_size, **kwargs)
