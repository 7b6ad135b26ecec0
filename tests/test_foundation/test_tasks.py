import pytest

from mmtlsi.tasks import TASK_SPECS, build_task_specs, get_task_spec


def test_every_task_is_fully_described():
    fields = set()
    for name, spec in TASK_SPECS.items():
        assert spec.name == name
        assert spec.gt_field.startswith('gt_')
        assert spec.pred_field.startswith('pred_')
        assert spec.output in ('classes', 'scalar', 'vector', 'binary')
        fields.add(spec.gt_field)
        if spec.is_label_map:
            assert spec.ignore_index == 255 and spec.pad_value == 255
        else:
            assert spec.pad_value == 0
    assert len(fields) == len(TASK_SPECS)  # one field per task


def test_build_task_specs_orders_selects_and_overrides():
    specs = build_task_specs(['depth', 'semseg'],
                             task_cfg=dict(semseg=dict(num_classes=21),
                                           edge=dict(max_dist=0.0075)))
    assert list(specs) == ['depth', 'semseg']
    assert specs['semseg'].out_channels == 21
    assert specs['semseg'].extra['num_classes'] == 21
    specs = build_task_specs(dict(edge=dict(loss_weight=10.0)),
                             task_cfg=dict(edge=dict(max_dist=0.0075)))
    assert specs['edge'].loss_weight == 10.0
    assert specs['edge'].extra['max_dist'] == 0.0075
    assert TASK_SPECS['edge'].loss_weight == 50.0  # defaults untouched


def test_unknown_or_repeated_tasks_are_rejected():
    with pytest.raises(KeyError, match='known tasks'):
        get_task_spec('optical_flow')
    with pytest.raises(ValueError):
        build_task_specs([])
