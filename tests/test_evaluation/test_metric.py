import json

import numpy as np
import pytest
import torch

from mmtlsi.evaluation import MultiTaskMetric
from mmtlsi.evaluation.report import (
    comparison_table,
    dump_results,
    format_results_table,
    load_results,
)


def _samples(n, seed=0, h=24, w=32):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        seg = rng.integers(0, 4, (1, h, w))
        seg[0, :2] = 255
        depth = rng.random((1, h, w)).astype(np.float32) * 5
        depth[0, 0, :5] = 0
        normal = rng.normal(size=(3, h, w)).astype(np.float32)
        lab = np.zeros((1, h, w), np.int64)
        lab[0, 6:18, 8:24] = 1
        edge_gt = lab.copy()
        from scipy import ndimage
        prob = ndimage.gaussian_filter(
            (np.roll(lab[0], i % 2, 1) * 1.0), 1.0)[None] * 3 \
            + rng.random((1, h, w)) * 0.2
        s = dict(img_path=f'/d/img_{i}.png',
                 gt_sem_seg=dict(data=torch.from_numpy(seg)),
                 pred_sem_seg=dict(data=torch.from_numpy(
                     np.where(rng.random((1, h, w)) < .7, seg % 4,
                              rng.integers(0, 4, (1, h, w))))),
                 gt_depth_map=dict(data=torch.from_numpy(depth)),
                 pred_depth_map=dict(data=torch.from_numpy(
                     depth + rng.normal(size=depth.shape).astype(np.float32))),
                 gt_normal_map=dict(data=torch.from_numpy(normal)),
                 pred_normal_map=dict(data=torch.from_numpy(
                     normal + rng.normal(size=normal.shape).astype(
                         np.float32))),
                 gt_edge_map=dict(data=torch.from_numpy(edge_gt)),
                 pred_edge_map=dict(data=torch.from_numpy(
                     np.clip(prob, 0, 1).astype(np.float32))),
                 gt_parts_map=dict(data=torch.from_numpy(seg % 3)),
                 pred_parts_map=dict(data=torch.from_numpy(
                     rng.integers(0, 3, (1, h, w)))),
                 gt_sal_map=dict(data=torch.from_numpy(lab)),
                 pred_sal_map=dict(data=torch.from_numpy(
                     rng.random((1, h, w)).astype(np.float32))))
        out.append(s)
    return out


def _metric(**kw):
    m = MultiTaskMetric(task_cfg=dict(semseg=dict(num_classes=4),
                                      human_parts=dict(num_classes=3)), **kw)
    m.dataset_meta = dict(classes=['a', 'b', 'c', 'd'])
    return m


@pytest.mark.parametrize('nproc', [1, 2])
def test_split_equals_whole(nproc):
    samples = _samples(5)
    whole = _metric(nproc=nproc)
    whole.process(None, samples)
    ref = whole.compute_metrics(whole.results)
    a, b = _metric(nproc=nproc), _metric(nproc=nproc)
    a.process(None, samples[:2])
    b.process(None, samples[2:])
    got = a.compute_metrics(a.results + b.results)
    assert set(ref) == set(got)
    for k in ref:
        assert got[k] == pytest.approx(ref[k]), k
    for key in ('semseg/mIoU', 'depth/rmse', 'normals/mean', 'edge/odsF',
                'human_parts/mIoU', 'sal/maxF'):
        assert key in ref and np.isfinite(ref[key])


def test_nproc_same_as_serial():
    samples = _samples(3, seed=1)
    r = []
    for nproc in (1, 2):
        m = _metric(nproc=nproc, tasks=['edge'])
        m.process(None, samples)
        r.append(m.compute_metrics(m.results))
    assert r[0] == r[1]


def _px(a, dtype=None):
    return dict(data=torch.as_tensor(np.asarray(a, dtype)))


def test_delta_m_and_report(tmp_path):
    px = _px
    samples = [dict(gt_sem_seg=px([[[0, 0, 1, 1]]]),
                    pred_sem_seg=px([[[0, 1, 1, 1]]]),
                    gt_depth_map=px([[[1.0, 2.0]]], np.float32),
                    pred_depth_map=px([[[1.0, 3.0]]], np.float32))]
    ref_file = tmp_path / 'ref.json'
    ref_file.write_text(json.dumps({'semseg': 50.0, 'depth/rmse': 1.0}))
    m = MultiTaskMetric(tasks=['semseg', 'depth'],
                        task_cfg=dict(semseg=dict(num_classes=2)),
                        delta_m_ref=str(ref_file))
    m.process(None, samples)
    res = m.compute_metrics(m.results)
    # mIoU (1/2 + 2/3) / 2 = 58.33 % (+16.67 % over 50), rmse sqrt(1/2) =
    # 0.7071 (29.29 % under 1.0, lower is better): mean 22.98 %
    assert res['semseg/mIoU'] == pytest.approx(175 / 3)
    assert res['multi_task/delta_m'] == pytest.approx(
        (50 / 3 + (1 - np.sqrt(0.5)) * 100) / 2)
    text = format_results_table(res, params_head=17_450_000, macs=2.1e11,
                                name='ours')
    assert 'Seg. mIoU ↑' in text and 'Depth RMSE ↓' in text
    assert '17.45' in text
    j, md = dump_results(str(tmp_path / 'run'), res, name='ours',
                         params_head=17_450_000)
    rec = load_results(j)
    assert rec['metrics']['semseg/mIoU'] == pytest.approx(res['semseg/mIoU'])
    table = comparison_table([rec, rec])
    assert table.count('| ours') == 2
    import importlib.util
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    spec = importlib.util.spec_from_file_location(
        'collect_results',
        osp.join(root, 'tools', 'analysis_tools', 'collect_results.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    main = mod.main
    out = tmp_path / 't.md'
    main([j, j, '--out', str(out), '--names', 'A', 'B'])
    assert '| A ' in out.read_text()


def test_edge_export(tmp_path):
    import cv2

    from mmtlsi.evaluation import export_edge_predictions
    samples = _samples(2)
    paths = export_edge_predictions(samples, str(tmp_path))
    img = cv2.imread(paths[0], cv2.IMREAD_UNCHANGED)
    p = samples[0]['pred_edge_map']['data'].numpy()[0]
    assert img.dtype == np.uint8 and paths[0].endswith('img_0.png')
    assert (img == np.floor(p * 255).astype(np.uint8)).all()


def test_edge_export_hook_of_another_boundary_task(tmp_path):
    """The hook writes the field it is given (a task registered outside
    mmtlsi) and stops with the fields named when the outputs lack it."""
    import cv2
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmtlsi.evaluation import EdgeExportHook
    prob = torch.tensor([[[0.0, 0.5, 0.999], [1.0, 0.25, 0.1]]])
    sample = SegDataSample(metainfo=dict(img_path='x/street_7.jpg'))
    sample.pred_contour_map = PixelData(data=prob)
    EdgeExportHook(str(tmp_path / 'c'), pred_field='pred_contour_map') \
        .after_test_iter(None, 0, outputs=[sample])
    img = cv2.imread(str(tmp_path / 'c' / 'street_7.png'),
                     cv2.IMREAD_UNCHANGED)
    assert img.tolist() == [[0, 127, 254], [255, 63, 25]]
    with pytest.raises(KeyError, match=r"no 'pred_edge_map' .* have "
                       r"\['pred_contour_map'\]"):
        EdgeExportHook(str(tmp_path / 'e')).after_test_iter(
            None, 0, outputs=[sample])
    assert not (tmp_path / 'e').exists()
