"""MultiTaskMetric dispatches to the metric kind of each task's spec; values
against hand-computed cases, options from task_cfg, spec checks."""
import numpy as np
import pytest
import torch

from mmtlsi import tasks
from mmtlsi.evaluation import MultiTaskMetric
from mmtlsi.evaluation.metrics import (
    METRIC_KINDS,
    MetricKind,
    build_metric_kind,
    register_metric_kind,
    result_higher_is_better,
)
from mmtlsi.evaluation.report import format_results_table, results_record
from mmtlsi.tasks import get_task_spec


def _px(a, dtype=None):
    return dict(data=torch.as_tensor(np.asarray(a, dtype=dtype)))


def _run(metric, samples):
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def test_confusion_kind_hand_computed():
    gt = [[[0, 0, 1, 1], [2, 2, 255, 1]]]
    pred = [[[0, 1, 1, 1], [2, 0, 0, 1]]]
    m = _run(MultiTaskMetric(tasks=['semseg'],
                             task_cfg=dict(semseg=dict(num_classes=3))),
             [dict(gt_sem_seg=_px(gt), pred_sem_seg=_px(pred))])
    # class 0: tp 1, fp 1, fn 1 -> 1/3; class 1: tp 3, fp 1 -> 3/4;
    # class 2: tp 1, fn 1 -> 1/2; 5 of 7 valid pixels right
    assert m['semseg/mIoU'] == pytest.approx(100 * (1 / 3 + 3 / 4 + 1 / 2)
                                             / 3)
    assert m['semseg/aAcc'] == pytest.approx(100 * 5 / 7)
    assert m['semseg/mAcc'] == pytest.approx(100 * (1 / 2 + 1 + 1 / 2) / 3)


def test_class_count_from_dataset_meta_unless_configured():
    sample = dict(gt_parts_map=_px([[[0, 1]]]), pred_parts_map=_px([[[0, 4]]]))
    metric = MultiTaskMetric(tasks=['human_parts'])
    metric.dataset_meta = dict(task_metainfo=dict(
        human_parts=dict(classes=tuple('abcde'))))
    _run(metric, [sample])
    assert metric.kinds()['human_parts'].spec.out_channels == 5
    metric = MultiTaskMetric(tasks=['human_parts'],
                             task_cfg=dict(human_parts=dict(num_classes=4)))
    metric.dataset_meta = dict(task_metainfo=dict(
        human_parts=dict(classes=tuple('abcde'))))
    with pytest.raises(ValueError, match=r'outside \[0, 4\)'):
        _run(metric, [sample])


def test_depth_kind_hand_computed():
    gt = np.array([[[1.0, 2.0, 0.0, 4.0]]], np.float32)
    pred = np.array([[[2.0, 2.0, 9.0, 3.0]]], np.float32)
    m = _run(MultiTaskMetric(tasks=['depth']),
             [dict(gt_depth_map=_px(gt), pred_depth_map=_px(pred))])
    # valid: gt > 0 -> errors 1, 0, 1
    assert m['depth/rmse'] == pytest.approx(np.sqrt(2 / 3))
    assert m['depth/mae'] == pytest.approx(2 / 3)
    assert m['depth/abs_rel'] == pytest.approx((1 + 0 + 1 / 4) / 3)
    # ratios 2, 1, 4/3: under 1.25 one, under 1.25^2 two
    assert m['depth/delta1'] == pytest.approx(100 / 3)
    assert m['depth/delta2'] == pytest.approx(200 / 3)


def test_angular_kind_hand_computed():
    gt = np.zeros((3, 1, 3), np.float32)
    gt[2] = 1                                    # (0, 0, 1)
    pred = gt.copy()
    pred[:, 0, 1] = (1, 0, 0)                    # 90 degrees
    pred[:, 0, 2] = (0, np.sin(np.pi / 12), np.cos(np.pi / 12))  # 15
    m = _run(MultiTaskMetric(tasks=['normals']),
             [dict(gt_normal_map=_px(gt), pred_normal_map=_px(pred))])
    assert m['normals/mean'] == pytest.approx(35.0, abs=1e-4)
    assert m['normals/rmse'] == pytest.approx(np.sqrt((90 ** 2 + 15 ** 2) / 3),
                                              abs=1e-4)
    assert m['normals/11.25'] == pytest.approx(100 / 3)
    assert m['normals/30.0'] == pytest.approx(200 / 3)


def test_maxf_kind_hand_computed():
    gt = [[[1, 1, 0, 0, 255]]]
    prob = np.array([[[0.9, 0.4, 0.3, 0.05, 0.99]]], np.float32)
    m = _run(MultiTaskMetric(tasks=['sal']),
             [dict(gt_sal_map=_px(gt), pred_sal_map=_px(prob))])
    # threshold 0.35..0.40: TP 2, FP 0 -> F = 1 (the ignored 0.99 is skipped)
    assert m['sal/maxF'] == pytest.approx(100.0)
    assert 0.3 < m['sal/threshold'] <= 0.4


def _square_edges(shift):
    gt = np.zeros((1, 40, 40), np.int64)
    gt[0, 10:30, 10:30] = 1                          # a square region
    prob = np.zeros((1, 40, 40), np.float32)
    r0, r1 = 10 + shift, 29 + shift                  # its outline, shifted
    prob[0, r0, r0:r1 + 1] = prob[0, r1, r0:r1 + 1] = 1
    prob[0, r0:r1 + 1, r0] = prob[0, r0:r1 + 1, r1] = 1
    return dict(gt_edge_map=_px(gt), pred_edge_map=_px(prob))


def test_boundary_tolerance_comes_from_task_cfg():
    """An outline 2 px off: outside 0.011 * diagonal (0.62 px), inside
    0.06 * diagonal (3.4 px)."""
    sample = _square_edges(shift=2)
    tight = _run(MultiTaskMetric(tasks=['edge'], task_cfg=dict(
        edge=dict(nms=False, thresholds=5))), [sample])
    loose = _run(MultiTaskMetric(tasks=['edge'], task_cfg=dict(
        edge=dict(max_dist=0.06, nms=False, thresholds=5))), [sample])
    assert tight['edge/odsF'] < 20
    assert loose['edge/odsF'] > 95


def test_kind_checks_the_spec():
    edge = get_task_spec('edge')
    with pytest.raises(ValueError, match=r"no option\(s\) \['radius'\]"):
        build_metric_kind(edge.with_overrides(
            metric_options=dict(radius=2)))
    with pytest.raises(ValueError, match="'mIoU' is not a result"):
        build_metric_kind(edge.with_overrides(metric='mIoU'))
    with pytest.raises(ValueError, match='contradicts'):
        build_metric_kind(edge.with_overrides(higher_is_better=False))
    with pytest.raises(KeyError, match="unknown metric kind 'psnr'"):
        build_metric_kind(edge.with_overrides(metric_kind='psnr'))


def test_delta_m_directions_come_from_the_kinds():
    samples = [dict(gt_depth_map=_px([[[1.0, 2.0]]], np.float32),
                    pred_depth_map=_px([[[1.0, 3.0]]], np.float32))]
    # rmse = sqrt(1/2) (lower is better), delta1 = 50 % (higher is better)
    m = _run(MultiTaskMetric(tasks=['depth'], delta_m_ref={
        'depth': 1.0, 'depth/delta1': 100.0}), samples)
    rmse = np.sqrt(0.5)
    expected = (-(rmse - 1.0) / 1.0 * 100 + (50 - 100) / 100 * 100) / 2
    assert m['multi_task/delta_m'] == pytest.approx(expected)
    assert result_higher_is_better(get_task_spec('depth'), 'delta1')
    # a reference without a result stops the evaluation, naming it
    for ref in ({'depth': 1.0, 'semseg': 40.0}, {'depth/psnr': 1.0}):
        with pytest.raises(ValueError, match=r"references \['(semseg|depth"
                           r"/psnr)'\] have no result"):
            _run(MultiTaskMetric(tasks=['depth'], delta_m_ref=ref), samples)
    with pytest.raises(ValueError, match='not a score'):
        result_higher_is_better(get_task_spec('sal'), 'threshold')


def test_a_new_kind_and_a_new_task_need_no_edit_of_mmtlsi():
    depth = get_task_spec('depth')
    # before the kind exists, its option is no setting of a task
    with pytest.raises(ValueError, match="'test_abs_error' is not regist"):
        depth.with_overrides(metric_kind='test_abs_error', scale=2.0)

    @register_metric_kind
    class AbsErrorKind(MetricKind):          # mean absolute error, pooled
        name = 'test_abs_error'
        results = dict(mae=False)
        options = ('scale', )

        def sample_stats(self, pred, gt):
            scale = self.spec.metric_options.get('scale', 1.0)
            return scale * np.abs(pred - gt).sum(), gt.size

        def pool(self, items):
            return dict(mae=sum(a for a, _ in items) /
                        sum(n for _, n in items))

    try:
        spec = get_task_spec('depth').with_overrides(
            name='height', title='Height', gt_field='gt_height_map',
            pred_field='pred_height_map', results_key='gt_height_map',
            metric_kind='test_abs_error', metric='mae', column='Height MAE',
            decimals=3)
        kind = build_metric_kind(spec)
        stats = [kind.sample_stats(np.array([1., 2.]), np.array([1., 4.])),
                 kind.sample_stats(np.array([0.]), np.array([1.]))]
        result = {f'height/{k}': v for k, v in kind.pool(stats).items()}
        assert result == {'height/mae': pytest.approx(1.0)}
        # registering the kind made its option a setting of the task
        scaled = build_metric_kind(spec.with_overrides(scale=2.0))
        assert scaled.sample_stats(np.array([1.]), np.array([4.])) == (6, 1)
        with pytest.raises(ValueError, match=r"'test_abs_error': \['scale'"):
            spec.with_overrides(gamma=2.0)
        table = format_results_table(result, tasks={'height': spec})
        assert 'Height MAE ↓' in table and '1.000' in table
        record = results_record(result, tasks={'height': spec})
        assert record['task_columns']['height'] == dict(
            key='height/mae', title='Height MAE', higher_is_better=False,
            decimals=3)
    finally:
        del METRIC_KINDS['test_abs_error']
        tasks._METRIC_KIND_OPTIONS.pop('test_abs_error')
