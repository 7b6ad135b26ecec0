import numpy as np
import pytest

from mmtlsi.evaluation.functional import (
    angular_error,
    confusion_matrix,
    delta_m,
    depth_metrics,
    depth_stats,
    merge_normal_stats,
    miou,
    normal_metrics,
    normal_stats,
    saliency_counts,
    saliency_metrics,
)


def test_confusion_3x3():
    gt = np.array([[0, 0, 1], [1, 2, 255]])
    pred = np.array([[0, 1, 1], [1, 2, 0]])
    cm = confusion_matrix(pred, gt, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 1]]
    r = miou(cm)
    # IoU: c0 1/2, c1 2/3, c2 1
    assert r['IoU'] == pytest.approx([0.5, 2 / 3, 1.0])
    assert r['mIoU'] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert r['aAcc'] == pytest.approx(4 / 5)


def test_depth_four_pixels():
    gt = np.array([1.0, 2.0, 4.0, 0.0])      # last pixel invalid
    pred = np.array([2.0, 2.0, -1.0, 9.0])   # -1 clamped to 0
    m = depth_metrics(depth_stats(pred, gt))
    # squared errors 1, 0, 16 -> rmse sqrt(17/3)
    assert m['rmse'] == pytest.approx(np.sqrt(17 / 3))
    assert m['abs_rel'] == pytest.approx((1 + 0 + 1) / 3)
    assert m['delta1'] == pytest.approx(1 / 3)
    assert m['mae'] == pytest.approx(5 / 3)


def test_depth_pooled_not_mean_of_images():
    s1 = depth_stats(np.array([2.0]), np.array([1.0]))
    s2 = depth_stats(np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0]))
    tot = {k: s1[k] + s2[k] for k in s1}
    assert depth_metrics(tot)['rmse'] == pytest.approx(np.sqrt(1 / 4))


def test_normals_right_angle():
    pred = np.zeros((3, 1, 2))
    gt = np.zeros((3, 1, 2))
    pred[:, 0, 0] = [2, 0, 0]
    gt[:, 0, 0] = [0, 0, 3]
    pred[:, 0, 1] = [1, 1, 1]                # gt zero -> invalid
    assert angular_error(pred, gt) == pytest.approx([90.0])
    m = normal_metrics(merge_normal_stats([normal_stats(pred, gt)]))
    assert m['mean'] == pytest.approx(90.0)
    assert m['median'] == pytest.approx(90.0, abs=0.01)
    assert m['11.25'] == 0


def test_normals_median_pooled():
    rng = np.random.default_rng(0)
    gts, preds, errs = [], [], []
    for _ in range(3):
        g = rng.normal(size=(3, 5, 7))
        p = g + rng.normal(size=(3, 5, 7)) * 0.5
        gts.append(g)
        preds.append(p)
        errs.append(angular_error(p, g))
    m = normal_metrics(merge_normal_stats(
        normal_stats(p, g) for p, g in zip(preds, gts)))
    allerr = np.concatenate(errs)
    assert m['median'] == pytest.approx(np.median(allerr), abs=0.011)
    assert m['mean'] == pytest.approx(allerr.mean())


def test_maxf_hand_case():
    gt = np.array([1, 1, 0, 0, 255])
    prob = np.array([0.9, 0.3, 0.6, 0.1, 0.99])
    c = saliency_counts(prob, gt)
    # t=0.3: TP 2, FP 1 -> P 2/3, R 1 -> F = 1.3*(2/3)/(0.3*2/3+1)
    f03 = 1.3 * (2 / 3) / (0.3 * 2 / 3 + 1)
    # t=0.65: TP 1, FP 0 -> P 1, R 1/2 -> F = 1.3*0.5/(0.3+0.5)
    f065 = 1.3 * 0.5 / 0.8
    r = saliency_metrics(c)
    assert r['maxF'] == pytest.approx(max(f03, f065))
    assert c[5].tolist() == [2, 1, 0]     # threshold 0.30
    # double sigmoid: everything >= 0.5 after the second sigmoid
    c2 = saliency_counts(prob, gt, double_sigmoid=True)
    assert c2[9].tolist() == [2, 2, 0]    # threshold 0.50


def test_delta_m_hand_case():
    mt = {'semseg/mIoU': 44.0, 'depth/rmse': 0.55}
    st = {'semseg/mIoU': 40.0, 'depth/rmse': 0.50}
    # semseg +10 %, depth -10 % (lower is better)
    assert delta_m(mt, st, {'semseg/mIoU': False, 'depth/rmse': True}) == \
        pytest.approx(0.0)
    mt['depth/rmse'] = 0.45
    assert delta_m(mt, st, {'semseg/mIoU': False, 'depth/rmse': True}) == \
        pytest.approx(10.0)


def test_references_from_single_task_result_files(tmp_path):
    from mmtlsi.evaluation.functional import load_references
    from mmtlsi.evaluation.report import dump_results
    files = []
    for task, key, value in (('semseg', 'semseg/mIoU', 40.0),
                             ('depth', 'depth/rmse', 0.6)):
        json_path, _ = dump_results(
            str(tmp_path / task), {key: value, f'{task}/extra': 1.0},
            tasks=[task], name=task)
        files.append(json_path)
    # each file gives its task's main metric, not the other results
    refs = load_references(files)
    assert refs == {'semseg/mIoU': 40.0, 'depth/rmse': 0.6}
