"""A config outside this repository inherits an mmtlsi config."""
import os.path as osp
import subprocess
import sys
import textwrap

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = 'mtlsi/swin-t_nyud.py'


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_package_route_mmtlsi_double_colon(tmp_path):
    cfg_file = _write(tmp_path / 'my_project.py', f"""
        _base_ = 'mmtlsi::{BASE}'
        train_cfg = dict(max_iters=123)
        """)
    cfg = Config.fromfile(cfg_file)
    original = Config.fromfile(osp.join(REPO, 'configs', BASE))
    assert cfg.train_cfg.max_iters == 123
    assert original.train_cfg.max_iters != 123
    assert cfg.model.type == original.model.type
    assert cfg.model.decode_head.type == original.model.decode_head.type


def test_relative_path_route(tmp_path):
    rel = osp.relpath(osp.join(REPO, 'configs', BASE), tmp_path)
    cfg_file = _write(tmp_path / 'my_project.py', f"""
        _base_ = '{rel}'
        train_cfg = dict(max_iters=7)
        """)
    assert Config.fromfile(cfg_file).train_cfg.max_iters == 7


def test_package_route_works_in_a_fresh_interpreter(tmp_path):
    """The route needs only `import mmtlsi` before the config is read."""
    cfg_file = _write(tmp_path / 'downstream.py', f"""
        _base_ = 'mmtlsi::{BASE}'
        train_dataloader = dict(batch_size=2)
        """)
    code = ('import mmtlsi\nfrom mmengine.config import Config\n'
            f'cfg = Config.fromfile({cfg_file!r})\n'
            'print(cfg.train_dataloader.batch_size)')
    out = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=300,
                         env={**__import__('os').environ,
                              'PYTHONPATH': REPO})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == '2'


def test_overridden_parts_of_a_package_base_still_build(tmp_path):
    """Dicts overridden under a `mmtlsi::` base carry `_scope_='mmtlsi'`;
    the registries of that scope must resolve to mmseg's (and so to ours)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS, METRICS, MODELS

    from mmtlsi.tasks import build_task_specs

    cfg_file = _write(tmp_path / 'downstream.py', f"""
        _base_ = 'mmtlsi::demo/mtlsi_tiny_synthetic-nyud.py'
        model = dict(decode_head=dict(num_tokens=8))
        val_evaluator = dict(task_cfg=dict(edge=dict(max_dist=0.02)))
        test_dataloader = dict(dataset=dict(
            data_root='{tmp_path / "synthetic"}', num_train=2, num_val=1,
            img_size=(32, 48)))
        """)
    cfg = Config.fromfile(cfg_file)
    assert cfg.model['_scope_'] == 'mmtlsi'
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'MultiTaskEncoderDecoder'
    assert model.decode_head.distillers['semseg'].num_tokens == 8
    metric = METRICS.build(cfg.val_evaluator)
    assert type(metric).__name__ == 'MultiTaskMetric'
    specs = build_task_specs(['semseg', 'edge'], metric.task_cfg)
    assert specs['edge'].metric_options['max_dist'] == 0.02
    assert specs['semseg'].out_channels == 7     # the base's task_cfg
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 1
