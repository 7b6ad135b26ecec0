"""What the package ships for mmengine and mim, the model index, and the
result collector's handling of mmengine's own metrics JSON."""
import json
import os
import os.path as osp

import yaml

from mmtlsi.evaluation.report import dump_results
from mmtlsi.tools.collect_results import main as collect
from mmtlsi.tools.collect_results import result_files

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MIM = osp.join(ROOT, 'mmtlsi', '.mim')


def test_mim_folder_is_the_repository_layout():
    for name in ('configs', 'tools', 'demo', 'model-index.yml'):
        assert osp.realpath(osp.join(MIM, name)) == osp.join(ROOT, name)
    for script in ('train.py', 'test.py', 'misc/print_config.py',
                   'misc/check_dataset.py', 'dist_train.sh'):
        assert osp.isfile(osp.join(MIM, 'tools', script)), script


def _models():
    with open(osp.join(MIM, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    assert metafiles == ['configs/mtlsi/metafile.yml']
    with open(osp.join(MIM, metafiles[0])) as f:
        meta = yaml.safe_load(f)
    assert [c['Name'] for c in meta['Collections']] == ['MTLSI-Net']
    return {m['Name']: m for m in meta['Models']}


def test_metafile_lists_every_config_once_without_weights():
    models = _models()
    configs = sorted(m['Config'] for m in models.values())
    on_disk = sorted(
        osp.relpath(osp.join(d, f), ROOT)
        for d, _, files in os.walk(osp.join(ROOT, 'configs', 'mtlsi'))
        for f in files if f.endswith('.py'))
    assert configs == on_disk
    for name, model in models.items():
        assert 'Weights' not in model, name
        assert model['In Collection'] == 'MTLSI-Net'
        assert model['Metadata']['Backbone'] in ('Swin-T', 'Swin-L',
                                                 'HRNet-W18')


def test_metafile_numbers_are_the_papers_and_the_readmes():
    models = _models()
    swin_t = models['mtlsi_swin-t_nyud']
    # the paper's Table I, MTLSI-Net with Swin-T
    assert swin_t['Results'] == [dict(
        Task='Multi-task Dense Prediction', Dataset='NYUDv2',
        Metrics={'Seg mIoU': 46.79, 'Depth RMSE': 0.5766,
                 'Normal mErr': 19.82, 'Boundary odsF': 76.6})]
    assert swin_t['Metadata']['Results Source'].startswith('paper, Table I')
    pascal = models['mtlsi_swin-l_pascal']
    assert pascal['Results'][0]['Metrics']['Parsing mIoU'] == 69.9
    assert pascal['Metadata']['Paper FLOPs (G)'] == 772
    # measured here: README.md's table (head params, multiply-adds)
    with open(osp.join(ROOT, 'README.md')) as f:
        readme = f.read()
    for config, model in (('swin-t_nyud', swin_t),
                          ('swin-l_pascal', pascal)):
        row = next(line for line in readme.splitlines()
                   if line.startswith(f'| `configs/mtlsi/{config}.py'))
        cells = [c.strip() for c in row.split('|')]
        assert cells[4].startswith(
            f"{model['Metadata']['Head Parameters (M)']}M")
        assert cells[5].startswith(f"{model['Metadata']['FLOPs (GMACs)']}G")
    # no paper numbers where the paper has none
    assert 'Results' not in models['mtlsi_swin-t_pascal']


def test_collect_results_skips_the_loggers_metrics_json(tmp_path, capsys):
    metrics = {'semseg/mIoU': 40.0, 'depth/rmse': 0.6}
    run = tmp_path / 'work_dirs' / 'a' / '20260101_000000'
    run.mkdir(parents=True)
    dump_results(str(run / 'a'), metrics, tasks=['semseg', 'depth'],
                 name='a')
    (run / '20260101_000000.json').write_text(json.dumps(metrics))
    other = tmp_path / 'plain.json'                # a plain dict elsewhere
    other.write_text(json.dumps({'semseg/mIoU': 30.0}))
    files = [str(run / 'a.json'), str(run / '20260101_000000.json'),
             str(other)]
    assert result_files(files) == [str(run / 'a.json'), str(other)]
    assert 'skipped' in capsys.readouterr().out
    assert result_files([str(tmp_path / 'work_dirs')]) == [
        str(run / 'a.json')]
    table = collect([str(tmp_path / 'work_dirs'), '--format', 'text'])
    rows = [line for line in table.splitlines() if '40.00' in line]
    assert len(rows) == 1 and rows[0].split()[0] == 'a'
