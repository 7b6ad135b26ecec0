import pytest

from mmtlsi.utils.tables import render_table


def test_markdown_table_layout():
    out = render_table(['model', 'mIoU', 'RMSE'],
                       [['a', 41.5, '0.5'], ['bb', 7, '-']], 'markdown')
    assert out.splitlines() == [
        '| model | mIoU | RMSE |',
        '|---|---:|---:|',
        '| a | 41.5 | 0.5 |',
        '| bb | 7 | - |',
    ]


def test_text_table_aligns_columns():
    out = render_table(['name', 'x'], [['long name', '1.25'], ['b', '10']])
    lines = out.splitlines()
    # rule, header, rule, rows, rule; first column left, the rest right
    assert lines[0] == lines[2] == lines[-1] == '-' * len('long name  1.25')
    assert lines[1] == 'name          x'
    assert lines[3:5] == ['long name  1.25', 'b            10']


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match='markdown'):
        render_table(['a'], [['1']], 'html')
