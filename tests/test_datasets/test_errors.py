import os

import numpy as np
import pytest
from mt_data_helpers import TEST_PIPELINE, make_nyud, write_npy, write_png

from mmtlsi.datasets import NYUDv2Dataset
from mmtlsi.datasets.decoders import AnnotationError


def _ds(root):
    return NYUDv2Dataset(data_root=str(root), pipeline=TEST_PIPELINE)


def test_missing_image_named(tmp_path):
    make_nyud(str(tmp_path))
    path = tmp_path / 'images' / '0002.png'
    os.remove(path)
    os.remove(tmp_path / 'images' / '0001.png')
    (tmp_path / 'images' / '0001.jpg').write_bytes(b'')   # nyud_mt layout
    with pytest.raises(FileNotFoundError, match='0002.jpg'):
        _ds(tmp_path)


def test_missing_annotation_named(tmp_path):
    make_nyud(str(tmp_path))
    os.remove(tmp_path / 'depth' / '0002.npy')
    with pytest.raises(FileNotFoundError) as e:
        _ds(tmp_path)
    assert str(tmp_path / 'depth' / '0002.npy') in str(e.value)


def test_unreadable_image_named(tmp_path):
    make_nyud(str(tmp_path))
    bad = tmp_path / 'images' / '0001.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(Exception, match='0001.png'):
        _ds(tmp_path)[0]


def test_unreadable_annotation_named(tmp_path):
    make_nyud(str(tmp_path))
    (tmp_path / 'segmentation' / '0001.png').write_bytes(b'garbage')
    with pytest.raises(AnnotationError, match='segmentation/0001.png'):
        _ds(tmp_path)[0]


@pytest.mark.parametrize('value', [np.nan, np.inf])
def test_nan_inf_depth_named(tmp_path, value):
    arrays = make_nyud(str(tmp_path))
    depth = arrays['0001']['depth'].copy()
    depth[3, 4] = value
    write_npy(str(tmp_path / 'depth' / '0001.npy'), depth)
    with pytest.raises(AnnotationError, match=r'depth/0001.npy.*NaN/inf'):
        _ds(tmp_path)[0]


def test_size_mismatch_named(tmp_path):
    make_nyud(str(tmp_path))
    write_png(str(tmp_path / 'edge' / '0002.png'),
              np.zeros((10, 12), np.uint8))
    with pytest.raises(AnnotationError, match=r'edge/0002.png is 12x10'):
        _ds(tmp_path)[1]


@pytest.mark.parametrize('encoding,newline', [
    ('utf-8', '\n'), ('utf-8-sig', '\n'), ('utf-8', '\r\n'),
    ('utf-8-sig', '\r\n')])
def test_split_file_bom_and_crlf_read_the_same(tmp_path, encoding, newline):
    make_nyud(str(tmp_path))
    (tmp_path / 'gt_sets' / 'train.txt').write_bytes(
        newline.join(['0001', '0002', '']).encode(encoding))
    ds = _ds(tmp_path)
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == [
        '0001', '0002']


def test_split_file_not_utf8_names_file_and_line(tmp_path):
    make_nyud(str(tmp_path))
    split = tmp_path / 'gt_sets' / 'train.txt'
    split.write_bytes('0001\n0002\nd\xe9j\xe0\n'.encode('latin-1'))
    with pytest.raises(ValueError, match=r'train.txt, line 3: not UTF-8'):
        _ds(tmp_path)


def test_empty_split_file_named(tmp_path):
    make_nyud(str(tmp_path))
    (tmp_path / 'gt_sets' / 'train.txt').write_bytes(b'\xef\xbb\xbf\r\n')
    with pytest.raises(ValueError, match='train.txt lists no image ids'):
        _ds(tmp_path)


@pytest.mark.parametrize('test_mode', [False, True])
def test_class_id_out_of_range_named_at_load_time(tmp_path, test_mode):
    """Training and testing alike: the loader stops on an id >= the
    dataset's class count (here 7 classes; file value 50 = class 49)."""
    arrays = make_nyud(str(tmp_path))
    seg = arrays['0002']['seg'].copy() % 8      # ids 0..7 -> classes -1..6
    seg[2, 3] = 50
    write_png(str(tmp_path / 'segmentation' / '0002.png'), seg)
    write_png(str(tmp_path / 'segmentation' / '0001.png'),
              arrays['0001']['seg'] % 8)
    ds = NYUDv2Dataset(data_root=str(tmp_path), pipeline=TEST_PIPELINE,
                       task_cfg=dict(semseg=dict(num_classes=7)),
                       test_mode=test_mode)
    assert ds.num_classes('semseg') == 7
    ds[0]                                        # in range: loads
    with pytest.raises(AnnotationError) as e:
        ds[1]
    msg = str(e.value)
    assert 'segmentation/0002.png' in msg
    assert 'class id(s) 49 ' in msg and "7 classes (0..6" in msg


def test_class_count_defaults_to_the_dataset_classes(tmp_path):
    make_nyud(str(tmp_path))
    assert _ds(tmp_path).num_classes('semseg') == 40
