import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

LINES = [
    dict(lr=0.01, data_time=0.5, loss=3.0, time=2.0, iter=10, memory=100,
         step=10),
    dict(lr=0.01, data_time=0.1, loss=2.0, time=1.0, iter=20, memory=100,
         step=20),
    {'semseg/mIoU': 10.0, 'depth/rmse': 0.9, 'data_time': 0.2,
     'time': 0.3, 'step': 20},
    dict(lr=0.01, data_time=0.1, loss=1.5, time=1.2, iter=30, memory=100,
         step=30),
    dict(lr=0.01, data_time=0.1, loss=1.0, time=0.8, iter=40, memory=100,
         step=40),
    {'semseg/mIoU': 25.5, 'depth/rmse': 0.7, 'data_time': 0.2,
     'time': 0.3, 'step': 40},
]


def load_tool():
    from mmtlsi.tools import analyze_logs
    return analyze_logs


@pytest.fixture
def work_dir(tmp_path):
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    text = '\n'.join(json.dumps(x) for x in LINES) + '\n\n'
    (vis / 'scalars.json').write_text(text)
    return tmp_path


def test_parse(work_dir):
    tool = load_tool()
    path = tool.find_scalar_log(str(work_dir))
    assert path.endswith(osp.join('vis_data', 'scalars.json'))
    records = tool.load_scalar_log(str(work_dir))
    assert len(records) == 6
    curves = tool.parse_curves(records, ['loss', 'semseg/mIoU'])
    assert list(curves) == ['loss', 'semseg/mIoU']
    assert curves['loss'] == ([10, 20, 30, 40], [3.0, 2.0, 1.5, 1.0])
    assert curves['semseg/mIoU'] == ([20, 40], [10.0, 25.5])
    assert tool.default_keys(records) == ['loss', 'depth/rmse',
                                          'semseg/mIoU']


def test_plot_curve_png(work_dir, tmp_path):
    tool = load_tool()
    out = tmp_path / 'curves.png'
    curves = tool.main(['plot_curve', str(work_dir), '--keys', 'loss',
                        'semseg/mIoU', 'depth/rmse', '--out', str(out)])
    assert out.is_file() and out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    (name, c), = curves.items()
    assert c['depth/rmse'] == ([20, 40], [0.9, 0.7])


def test_cal_train_time(work_dir):
    tool = load_tool()
    (stats, ) = tool.main(['cal_train_time', str(work_dir)]).values()
    # validation lines and the first training line are left out
    assert stats['num_lines'] == 3
    assert stats['mean_s_per_iter'] == pytest.approx((1.0 + 1.2 + 0.8) / 3)
    assert stats['mean_data_s_per_iter'] == pytest.approx(0.1)
    assert stats['last_iter'] == 40
    assert stats['slowest_s_per_iter'] == 1.2
