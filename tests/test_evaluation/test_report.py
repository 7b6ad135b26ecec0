"""The results table reads every column from the task specs."""
import json

import pytest

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
    # a record that does not describe its columns is refused, naming it
    del rec['task_columns']
    path.write_text(json.dumps(rec))
    with pytest.raises(ValueError, match=r'c\.json: .*without task_columns'):
        load_results(str(path))
    with pytest.raises(ValueError, match=r'c\.json: .*without task_columns'):
        load_references(str(path))


def test_the_multiply_add_column_says_what_it_counts():
    """2.1e11 multiply-adds and 17.45M parameters, in the units the headers
    name."""
    text = format_results_table({'semseg/mIoU': 40.0}, tasks=['semseg'],
                                params_head=17_450_000,
                                params_total=28_000_000, macs=2.1e11,
                                name='ours', fmt='markdown')
    assert text.splitlines()[0] == \
        '| Model | Seg. mIoU ↑ | Params (M) | Params total (M) | MACs (G) |'
    assert text.splitlines()[2] == '| ours | 40.00 | 17.45 | 28.00 | 210.0 |'
    assert 'FLOPs' not in text
    rec = results_record({'semseg/mIoU': 40.0}, tasks=['semseg'], macs=2.1e11)
    assert rec['macs'] == 2.1e11 and 'flops' not in rec
