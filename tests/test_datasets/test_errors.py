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
