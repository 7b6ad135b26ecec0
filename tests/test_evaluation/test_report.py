"""The results table reads every column from the task specs."""
import json

from mmtlsi.evaluation.functional import load_references
from mmtlsi.evaluation.report import (
    comparison_table,
    format_results_table,
    load_results,
    results_record,
)
from mmtlsi.tasks import get_task_spec

METRICS = {'test/semseg/mIoU': 41.234, 'test/semseg/aAcc': 70.0,
           'test/depth/rmse': 0.61234, 'test/edge/odsF': 77.0,
           'test/multi_task/delta_m': -1.5, 'test/data_time': 0.1}


def test_prefixed_keys_and_spec_columns():
    rec = results_record(METRICS, name='run')
    assert rec['tasks'] == ['semseg', 'depth', 'edge']    # registry order
    assert rec['columns'] == {'Seg. mIoU ↑': 41.234, 'Depth RMSE ↓': 0.61234,
                              'Bound. odsF ↑': 77.0}
    assert rec['delta_m'] == -1.5
    assert rec['metrics']['semseg/aAcc'] == 70.0
    text = format_results_table(METRICS, tasks=['depth', 'semseg'],
                                name='run', fmt='markdown')
    assert text.splitlines()[0] == '| Model | Depth RMSE ↓ | Seg. mIoU ↑ | ' \
        'Δm ↑ (%) |'
    assert text.splitlines()[2] == '| run | 0.6123 | 41.23 | -1.50 |'


def test_overridden_spec_changes_the_column():
    spec = get_task_spec('semseg').with_overrides(metric='aAcc', decimals=1)
    text = format_results_table(METRICS, tasks={'semseg': spec}, name='r',
                                fmt='markdown')
    assert 'Seg. aAcc ↑' in text and '| r | 70.0 |' in text


def test_records_describe_their_columns(tmp_path):
    spec = get_task_spec('edge').with_overrides(
        name='contour', title='Contour', gt_field='gt_contour_map',
        pred_field='pred_contour_map', results_key='gt_contour_map',
        decimals=3)                              # never registered
    rec = results_record({'contour/odsF': 12.3456}, tasks={'contour': spec},
                         name='c')
    path = tmp_path / 'c.json'
    path.write_text(json.dumps(rec))
    loaded = load_results(str(path))
    assert '| c | 12.346 |' in comparison_table([loaded])
    assert load_references(str(path)) == {'contour/odsF': 12.3456}
    # a record written before records described their columns
    old = dict(rec)
    del old['task_columns']
    old.update(tasks=['edge'], metrics={'edge/odsF': 50.0})
    assert '| c | 50.00 |' in comparison_table([old])
