import dataclasses
import sys
import textwrap

import pytest
from mmengine.config import Config

from mmtlsi.evaluation.metrics import METRIC_KINDS, build_metric_kind
from mmtlsi.tasks import (
    OUTPUT_KINDS,
    TASK_SPECS,
    build_task_specs,
    get_task_spec,
    register_task,
    spec_of_results_key,
    task_metainfo,
)


def test_every_task_is_fully_described():
    fields = set()
    for name, spec in TASK_SPECS.items():
        assert spec.name == name
        assert spec.gt_field.startswith('gt_')
        assert spec.pred_field.startswith('pred_')
        assert spec.output in OUTPUT_KINDS
        assert spec_of_results_key(spec.results_key) is spec
        fields.add(spec.gt_field)
        if spec.is_label_map:
            assert spec.ignore_index == 255 and spec.pad_value == 255
        else:
            assert spec.pad_value == 0
        # its metric kind accepts its options, main metric and direction
        assert build_metric_kind(spec).spec is spec
    assert len(fields) == len(TASK_SPECS)  # one field per task


def test_table_columns_of_the_builtin_tasks():
    columns = {n: (s.metric_key, s.column, s.higher_is_better, s.decimals)
               for n, s in TASK_SPECS.items()
               if n in ('semseg', 'depth', 'normals', 'edge', 'human_parts',
                        'sal')}
    assert columns == {
        'semseg': ('semseg/mIoU', 'Seg. mIoU', True, 2),
        'depth': ('depth/rmse', 'Depth RMSE', False, 4),
        'normals': ('normals/mean', 'Normal mErr', False, 2),
        'edge': ('edge/odsF', 'Bound. odsF', True, 2),
        'human_parts': ('human_parts/mIoU', 'Parsing mIoU', True, 2),
        'sal': ('sal/maxF', 'Sal. maxF', True, 2)}


def test_build_task_specs_orders_selects_and_overrides():
    specs = build_task_specs(['depth', 'semseg'],
                             task_cfg=dict(semseg=dict(num_classes=21),
                                           edge=dict(max_dist=0.0075)))
    assert list(specs) == ['depth', 'semseg']
    assert specs['semseg'].out_channels == 21
    specs = build_task_specs(dict(edge=dict(loss_weight=10.0)),
                             task_cfg=dict(edge=dict(max_dist=0.0075)))
    assert specs['edge'].loss_weight == 10.0
    # a metric option lands in metric_options, the other options stay
    assert specs['edge'].metric_options == dict(
        max_dist=0.0075, thresholds=101, nms=True, gt_is_boundary=False)
    assert TASK_SPECS['edge'].loss_weight == 50.0  # defaults untouched
    assert TASK_SPECS['edge'].metric_options['max_dist'] == 0.011


def test_overrides_that_nothing_reads_are_errors():
    with pytest.raises(ValueError, match="unknown setting 'max_dist'"):
        get_task_spec('semseg', max_dist=0.01)
    with pytest.raises(ValueError, match='num_classes is set'):
        get_task_spec('depth', num_classes=3)
    with pytest.raises(ValueError, match="output 'heatmap'"):
        get_task_spec('depth', output='heatmap')


def test_unknown_or_repeated_tasks_are_rejected():
    with pytest.raises(KeyError, match='known tasks'):
        get_task_spec('optical_flow')
    with pytest.raises(ValueError):
        build_task_specs([])
    with pytest.raises(ValueError, match='selected twice'):
        build_task_specs(['semseg', 'semseg'])


def test_options_of_the_metric_kind_are_settings():
    """A spec that lists no option still takes its kind's options."""
    bare = dataclasses.replace(get_task_spec('edge'), metric_options={})
    assert bare.with_overrides(max_dist=0.02).metric_options == \
        dict(max_dist=0.02)
    moved = get_task_spec('semseg').with_overrides(
        metric_kind='maxf', metric='maxF', double_sigmoid=True)
    assert moved.metric_options == dict(double_sigmoid=True)
    with pytest.raises(ValueError, match=r"kind 'boundary': \['gt_is_"):
        bare.with_overrides(radius=3)


def test_column_follows_a_new_title():
    spec = get_task_spec('depth').with_overrides(
        name='height', title='Height', gt_field='gt_height_map',
        pred_field='pred_height_map', results_key='gt_height_map')
    assert spec.column == 'Height rmse' and spec.metric_key == 'height/rmse'
    assert spec.decimals == 4 and not spec.higher_is_better


def test_register_task_checks_names_and_fields():
    edge = TASK_SPECS['edge']
    assert register_task(edge) is edge          # same spec again: allowed
    with pytest.raises(KeyError, match='already registered'):
        register_task(edge.with_overrides(loss_weight=1.0))
    with pytest.raises(ValueError, match="gt_field 'gt_edge_map' is already "
                       "used by task 'edge'"):
        register_task(edge.with_overrides(name='contour'))
    with pytest.raises(TypeError):
        register_task(dict(name='contour'))
    with pytest.raises(TypeError):
        TASK_SPECS['contour'] = edge            # read-only: use register_task
    assert 'contour' not in TASK_SPECS


def test_a_config_registers_a_task_through_custom_imports(tmp_path,
                                                           monkeypatch):
    (tmp_path / 'plant_tasks.py').write_text(textwrap.dedent("""
        from mmtlsi.tasks import get_task_spec, register_task
        register_task(get_task_spec('sal').with_overrides(
            name='foreground', title='Fg.', gt_field='gt_foreground_map',
            pred_field='pred_foreground_map',
            results_key='gt_foreground_map'))
        """))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['plant_tasks'])\n"
                   "tasks = ['semseg', 'foreground']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'plant_tasks', raising=False)
    Config.fromfile(str(cfg))
    spec = build_task_specs(['semseg', 'foreground'])['foreground']
    assert spec.metric_kind == 'maxf' and spec.column == 'Fg. maxF'
    assert build_metric_kind(spec).name == 'maxf'


def test_flip_negated_channels():
    normals = get_task_spec('normals')
    assert normals.channels_negated_by_flip('horizontal') == (0, )
    assert normals.channels_negated_by_flip('vertical') == (1, )
    assert normals.channels_negated_by_flip('diagonal') == (0, 1)
    assert get_task_spec('depth').channels_negated_by_flip('diagonal') == ()
    with pytest.raises(ValueError, match='unknown flip direction'):
        normals.channels_negated_by_flip('sideways')
    with pytest.raises(ValueError, match='flip_negated_channels'):
        normals.with_overrides(flip_negated_channels=dict(x=(0, )))


def test_task_metainfo_reads_the_task_then_mmseg_fields():
    meta = dict(classes=('a', 'b'),
                task_metainfo=dict(human_parts=dict(classes=('bg', 'head'))))
    assert task_metainfo(meta, TASK_SPECS['human_parts'], 'classes') == \
        ('bg', 'head')
    assert task_metainfo(meta, TASK_SPECS['semseg'], 'classes') == ('a', 'b')
    assert task_metainfo(meta, TASK_SPECS['sal'], 'classes') is None
    assert task_metainfo(None, TASK_SPECS['semseg'], 'palette') is None


def test_metric_kinds_are_named_by_the_specs():
    kinds = {s.metric_kind for s in TASK_SPECS.values()}
    assert {'confusion', 'depth', 'angular', 'maxf', 'boundary'} <= kinds
    assert kinds <= set(METRIC_KINDS)
