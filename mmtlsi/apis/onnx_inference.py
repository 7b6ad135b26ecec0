"""Run an exported model (:mod:`mmtlsi.apis.export`) on images with ONNX
Runtime, returning what :func:`mmtlsi.apis.inference_model` returns."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmtlsi.models.segmentors.multi_task_encoder_decoder import (
    decode_prediction,
    restore_original_frame,
)
from mmtlsi.registry import MODELS
from mmtlsi.tasks import build_task_specs

from .export import ort_session, padded_size
from .inference import ImageType, get_test_pipeline_cfg


class OnnxMultiTaskPredictor:
    """An exported MTLSI-Net in ONNX Runtime, with the config's test
    pipeline and data preprocessor around it.

    Each image goes through the test pipeline (resize, if the config has
    one), the data preprocessor (BGR -> RGB, normalisation, padding to
    ``test_cfg``'s size or multiple), the ONNX graph, and the model's own
    postprocessing (padding removed, resized to the image's size, each
    task's activation): the same steps, in the same code, as
    ``inference_model``. Images run one at a time (batch 1). A file
    exported ``with_preprocess`` gets the packed image itself (its graph
    normalises and pads); a dynamic file refuses an image whose padded
    size is below the ``min_hw`` of its metadata.

    Args:
        model_file: the ``.onnx`` file; its metadata holds the config.
        config: a config file or ``Config`` to use instead of the stored one.
        threads: ONNX Runtime intra-op threads (default: its own choice).
    """

    def __init__(self, model_file: Union[str, Path],
                 config: Union[str, Path, Config, None] = None,
                 threads: Optional[int] = None):
        self.model_file = str(model_file)
        self.session = ort_session(model_file, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if config is None:
            if 'mmtlsi_config' not in meta:
                raise ValueError(f'{model_file} holds no mmtlsi config '
                                 '(not written by pytorch2onnx); pass config')
            config = Config.fromstring(meta['mmtlsi_config'], '.py')
        elif not isinstance(config, Config):
            config = Config.fromfile(str(config))
        self.cfg = config
        self.dataset_meta = json.loads(meta.get('mmtlsi_dataset_meta', '{}'))
        init_default_scope(config.get('default_scope', 'mmseg'))
        head = config.model.decode_head
        self.task_specs = build_task_specs(head.tasks, head.get('task_cfg'))
        outputs = self.session.get_outputs()
        names = [o.name for o in outputs]
        if names != list(self.task_specs):
            raise ValueError(f'{model_file}: outputs {names}, but its config '
                             f'predicts {list(self.task_specs)}')
        for out in outputs:
            channels = self.task_specs[out.name].out_channels
            if isinstance(out.shape[1], int) and out.shape[1] != channels:
                raise ValueError(f'{model_file}: output {out.name} has '
                                 f'{out.shape[1]} channels, its task '
                                 f'{channels}')
        self.input_shape = self.session.get_inputs()[0].shape
        # the smallest H, W a dynamic graph holds for (Swin blocks without
        # pad_small_map); None: no bound beyond the size multiple
        spec = json.loads(meta.get('mmtlsi_input', '{}'))
        self.min_hw = spec.get('min_hw')
        # a graph with the data preprocessor inside (export_onnx's
        # with_preprocess) takes the packed image as it is
        self.preprocess = bool(spec.get('preprocess'))
        self.input_dtype = getattr(torch, spec.get('dtype') or 'float32')
        self.preprocessor = MODELS.build(config.model.data_preprocessor)
        self.preprocessor.eval()
        self._pipelines = {}

    def _pipeline(self, from_array: bool) -> Compose:
        if from_array not in self._pipelines:
            self._pipelines[from_array] = Compose(
                get_test_pipeline_cfg(self.cfg, from_array))
        return self._pipelines[from_array]

    def _check_input(self, inputs: torch.Tensor) -> None:
        """``inputs``: the preprocessed batch, or the image batch of a
        ``preprocess`` graph."""
        for axis, (size, want) in enumerate(zip(inputs.shape,
                                                self.input_shape)):
            if isinstance(want, int) and size != want:
                raise ValueError(
                    f'{self.model_file} was exported for inputs '
                    f'{self.input_shape}; the preprocessed image is '
                    f'{tuple(inputs.shape)} (axis {axis}): export it with '
                    '--dynamic or at this --shape')
        hw = tuple(inputs.shape[2:])
        if self.preprocess:
            hw = padded_size(hw, self.preprocessor.test_cfg)
        if self.min_hw and (hw[0] < self.min_hw[0] or hw[1] < self.min_hw[1]):
            raise ValueError(
                f'{self.model_file} holds for inputs of at least '
                f'{self.min_hw[0]} x {self.min_hw[1]}; the preprocessed image '
                f'is {hw[0]} x {hw[1]}: resize it or pad it larger (the '
                "config's test pipeline / data preprocessor)")

    def predict_one(self, image: ImageType) -> SegDataSample:
        """One image (file, or HxWx3 uint8 array in the loader's channel
        order) -> a SegDataSample with every task's prediction."""
        from_array = isinstance(image, np.ndarray)
        results = dict(img=image) if from_array else dict(
            img_path=str(image))
        results = self._pipeline(from_array)(results)
        if self.preprocess:
            return self._predict_preprocessed(results)
        with torch.no_grad():
            data = self.preprocessor(dict(
                inputs=[results['inputs']],
                data_samples=[results['data_samples']]), training=False)
        inputs, sample = data['inputs'], data['data_samples'][0]
        self._check_input(inputs)
        return self._decode(
            self.session.run(None, {'inputs': inputs.numpy()}), sample)

    def _predict_preprocessed(self, results: dict) -> SegDataSample:
        """The packed image straight into a graph that preprocesses it and
        returns the maps at the image's size (no padding to remove)."""
        image = results['inputs'][None].to(self.input_dtype)
        sample = results['data_samples']
        self._check_input(image)
        return self._decode(
            self.session.run(None, {'image': image.numpy()}), sample)

    def _decode(self, maps, sample: SegDataSample) -> SegDataSample:
        """Each task's raw map (batch of one) in the image's frame, decoded
        as ``model.predict`` does, into ``sample``."""
        for spec, raw in zip(self.task_specs.values(), maps):
            x = restore_original_frame(torch.from_numpy(raw[0]),
                                       sample.metainfo, spec)
            sample.set_data({spec.pred_field: PixelData(
                data=decode_prediction(x, spec))})
        return sample

    def __call__(self, images: Union[ImageType, Sequence[ImageType]]
                 ) -> List[SegDataSample]:
        if isinstance(images, (str, Path, np.ndarray)):
            images = [images]
        return [self.predict_one(img) for img in images]


def inference_onnx(model_file: Union[str, Path, OnnxMultiTaskPredictor],
                   images: Union[ImageType, Sequence[ImageType]]
                   ) -> List[SegDataSample]:
    """:func:`inference_model` for an exported model: one SegDataSample per
    image, each task's prediction at the image's size (docs/CONTRACTS.md).
    ``model_file`` is an ``.onnx`` file or an
    :class:`OnnxMultiTaskPredictor` (reuse it for many calls)."""
    predictor = model_file if isinstance(
        model_file, OnnxMultiTaskPredictor) else \
        OnnxMultiTaskPredictor(model_file)
    return predictor(images)


def compare_predictions(model: torch.nn.Module,
                        predictor: OnnxMultiTaskPredictor,
                        images: Sequence[ImageType]) -> dict:
    """:func:`inference_onnx` against :func:`inference_model` (``model``
    from :func:`mmtlsi.apis.init_model`) on ``images``, one at a time.

    Returns task -> dict(max_abs=..., agreement=...): the largest absolute
    difference of the predictions (float maps) and the share of pixels with
    the same label (class maps), over all images.
    """
    from .inference import inference_model
    result = {t: dict(max_abs=0.0, equal=0, pixels=0)
              for t in predictor.task_specs}
    for image in images:
        ref = inference_model(model, image)[0]
        got = predictor.predict_one(image)
        for task, spec in predictor.task_specs.items():
            r = ref.get(spec.pred_field).data
            g = got.get(spec.pred_field).data
            if r.shape != g.shape:
                raise AssertionError(f'{image}: {task} is {tuple(g.shape)} '
                                     f'from ONNX, {tuple(r.shape)} eager')
            row = result[task]
            row['equal'] += int((r == g).sum())
            row['pixels'] += r.numel()
            row['max_abs'] = max(row['max_abs'],
                                 float((r.double() - g.double()).abs().max()))
    return {t: dict(max_abs=r['max_abs'],
                    agreement=r['equal'] / max(r['pixels'], 1))
            for t, r in result.items()}
