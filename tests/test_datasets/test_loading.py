import numpy as np
import pytest
import torch
from mt_data_helpers import TEST_PIPELINE, W, make_nyud, make_pascal

from mmtlsi.datasets import NYUDv2Dataset, PascalContextMTDataset
from mmtlsi.datasets.decoders import load_meta, thin


def _gt(sample, field):
    return sample['data_samples'].get(field).data.numpy()


@pytest.mark.parametrize('layout', ['atrc', 'nyud_mt'])
def test_nyud_layouts_decode(tmp_path, layout):
    arrays = make_nyud(str(tmp_path), layout)
    ds = NYUDv2Dataset(data_root=str(tmp_path), split='train',
                       pipeline=TEST_PIPELINE)
    assert ds.layout == layout
    assert len(ds) == 2 and ds.tasks == ['semseg', 'depth', 'normals', 'edge']
    out = ds[1]
    a = arrays['0002']
    seg = _gt(out, 'gt_sem_seg')[0]
    expect = a['seg'].astype(np.int64) - 1
    expect[a['seg'] == 0] = 255
    np.testing.assert_array_equal(seg, expect)
    assert seg.dtype == np.int64 and (seg == 255).any()
    np.testing.assert_array_equal(_gt(out, 'gt_depth_map')[0], a['depth'])
    normals = _gt(out, 'gt_normal_map').transpose(1, 2, 0)
    expect_n = 2 * a['normals'].astype(np.float64) / 255. - 1
    np.testing.assert_allclose(normals, expect_n, atol=1e-6)
    np.testing.assert_array_equal(_gt(out, 'gt_edge_map')[0],
                                  (a['edge'] > 0).astype(np.int64))
    # image: BGR as LoadImageFromFile reads it
    img = out['inputs'].numpy().transpose(1, 2, 0)
    if layout == 'atrc':
        np.testing.assert_array_equal(img[..., ::-1], a['image'])
    assert ds.metainfo['classes'][0] == 'wall'
    assert len(ds.metainfo['classes']) == 40


def test_task_subset(tmp_path):
    make_nyud(str(tmp_path))
    ds = NYUDv2Dataset(data_root=str(tmp_path), tasks=['depth', 'normals'],
                       pipeline=TEST_PIPELINE)
    sample = ds[0]['data_samples']
    assert 'gt_depth_map' in sample and 'gt_normal_map' in sample
    assert 'gt_sem_seg' not in sample and 'gt_edge_map' not in sample
    assert sample.metainfo['tasks'] == ['depth', 'normals']
    with pytest.raises(ValueError, match='sal'):
        NYUDv2Dataset(data_root=str(tmp_path), tasks=['sal'])


def test_pascal_decode(tmp_path):
    arrays = make_pascal(str(tmp_path))
    ds = PascalContextMTDataset(data_root=str(tmp_path),
                                pipeline=TEST_PIPELINE)
    assert ds.tasks == ['semseg', 'human_parts', 'normals', 'sal', 'edge']
    assert ds.get_data_info(0)['ann_info']['semseg']['path'].endswith(
        'semseg/VOC12/2008_000001.png')
    semseg_1 = ds.get_data_info(1)['ann_info']['semseg']['path']
    assert 'pascal-context' in semseg_1
    person, nobody = ds[0], ds[1]
    a = arrays['2008_000001']
    np.testing.assert_array_equal(_gt(person, 'gt_sem_seg')[0], a['seg'])
    # parts: head 1, neck -> torso 2, llarm -> lower arms 4, ruleg -> 5;
    # other pixels background 0
    parts = _gt(person, 'gt_parts_map')[0]
    assert parts[3, 5] == 1 and parts[7, 5] == 2 and parts[9, 4] == 4
    assert parts[15, 9] == 5 and parts[22, 30] == 0 and parts[12, 8] == 0
    assert set(np.unique(parts)) == {0, 1, 2, 4, 5}
    assert (_gt(nobody, 'gt_parts_map') == 255).all()
    # normals: kept on wall (NYUD class), zeroed on sky (not in NYUD)
    normals = _gt(person, 'gt_normal_map').transpose(1, 2, 0)
    decoded = 2 * a['normals'].astype(np.float64) / 255. - 1
    np.testing.assert_allclose(normals[:, :W // 2], decoded[:, :W // 2],
                               atol=1e-6)
    assert (normals[:, W // 2:] == 0).all()
    shared = load_meta('pascal_context')['nyud_shared_context_classes']
    assert shared['wall'] == 440 and 'sky' not in shared
    # saliency: 127/255 < 0.5 < 128/255
    sal = _gt(person, 'gt_sal_map')[0]
    assert (sal[:, :8] == 0).all() and (sal[:, 8:24] == 1).all()
    assert (sal[:, 24:] == 0).all()
    # boundary: the label change between columns 15 and 16, one pixel wide
    edge = _gt(person, 'gt_edge_map')[0]
    cols = np.nonzero(edge.any(axis=0))[0]
    assert set(cols) <= {15, 16} and edge.sum(axis=1).max() == 1
    assert edge.any(axis=1)[1:-1].all()   # ends may be eroded by thinning
    assert person['data_samples'].gt_parts_map.data.dtype == torch.int64


def test_thin_bar_to_line():
    mask = np.zeros((12, 20), bool)
    mask[4:8, 2:18] = True
    line = thin(mask)
    assert line.sum(axis=0)[4:16].max() == 1      # one pixel wide
    assert line[:, 4:16].any(axis=0).all()        # and connected
    assert (line <= mask).all()
    assert thin(np.zeros((5, 5), bool)).sum() == 0
