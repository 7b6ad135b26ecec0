import importlib.util
import os
import os.path as osp
import sys

import numpy as np
from mt_data_helpers import make_nyud, write_npy, write_png

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(rel):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(rel))[0], osp.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_check_dataset_reports_each_problem(tmp_path, monkeypatch, capsys):
    tool = _load('tools/misc/check_dataset.py')
    root = str(tmp_path)
    ids = ('0001', '0002', '0003', '0004')
    make_nyud(root, ids=ids)
    for i in ids:       # unit normals (the helper writes random ones)
        write_png(str(tmp_path / 'normals' / f'{i}.png'),
                  np.full((24, 32, 3), (128, 128, 255), np.uint8))
    monkeypatch.setattr(sys, 'argv', ['x', root, '--dataset', 'nyud',
                                      '--splits', 'train'])
    assert tool.main() == 0
    os.remove(tmp_path / 'normals' / '0001.png')
    depth = np.load(tmp_path / 'depth' / '0002.npy')
    depth[0, 0] = np.inf
    write_npy(str(tmp_path / 'depth' / '0002.npy'), depth)
    write_png(str(tmp_path / 'edge' / '0003.png'), np.zeros((5, 6), np.uint8))
    write_png(str(tmp_path / 'segmentation' / '0004.png'),
              np.full((24, 32), 77, np.uint8))
    write_png(str(tmp_path / 'images' / '9999.png'),
              np.zeros((24, 32, 3), np.uint8))
    capsys.readouterr()
    assert tool.main() == 1
    out = capsys.readouterr().out
    assert 'missing file: 1' in out and 'normals/0001.png' in out
    assert 'depth/0002.npy' in out and 'NaN/inf' in out
    assert 'edge/0003.png: 6x5 vs image 32x24' in out
    assert 'segmentation/0004.png' in out and 'class id(s) 76 ' in out
    assert '40 classes' in out
    assert 'images/9999.png' in out


def test_check_dataset_reads_classes_from_config_checks_asked_splits(
        tmp_path, monkeypatch, capsys):
    tool = _load('tools/misc/check_dataset.py')
    cfg = osp.join(ROOT, 'configs/_base_/datasets/synthetic_nyud.py')
    root = str(tmp_path / 'synthetic')
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            'train_dataloader.dataset.num_train=3',
            'train_dataloader.dataset.num_val=2',
            'train_dataloader.dataset.img_size=(24,32)']
    monkeypatch.setattr(sys, 'argv', ['x', cfg, '--splits', 'val', *opts])
    assert tool.main() == 0
    out = capsys.readouterr().out
    assert 'val: 2 samples' in out and "'semseg': 7" in out
    assert 'train:' not in out and 'extra file' not in out
    # a class id the 7-class dataset does not have
    seg = os.path.join(root, 'segmentation', 'val_00001.png')
    write_png(seg, np.full((24, 32), 9, np.uint8))
    assert tool.main() == 1
    out = capsys.readouterr().out
    assert 'val_00001.png' in out and '7 classes' in out


def test_check_dataset_reports_empty_and_non_utf8_split_files(
        tmp_path, monkeypatch, capsys):
    tool = _load('tools/misc/check_dataset.py')
    root = str(tmp_path)
    make_nyud(root, ids=('0001',))
    make_nyud(root, ids=('0002',), split='val')
    with open(tmp_path / 'gt_sets' / 'train.txt', 'wb') as f:
        f.write(b'\xef\xbb\xbf\r\n')
    with open(tmp_path / 'gt_sets' / 'val.txt', 'wb') as f:
        f.write(b'0002\r\n\xff\xfe\r\n')
    monkeypatch.setattr(sys, 'argv', ['x', root, '--dataset', 'nyud'])
    assert tool.main() == 1
    out = capsys.readouterr().out
    assert 'split file: 2' in out
    assert 'train.txt lists no image ids' in out
    assert 'val.txt, line 2: not UTF-8' in out


def test_browse_dataset_writes_pictures(tmp_path, monkeypatch):
    tool = _load('tools/misc/browse_dataset.py')
    root = str(tmp_path / 'data')
    make_nyud(root)
    cfg = osp.join(ROOT, 'configs/_base_/datasets/nyud.py')
    out = str(tmp_path / 'out')
    monkeypatch.setattr(sys, 'argv', [
        'x', cfg, '--output-dir', out, '--not-show', '--max-samples', '2',
        '--cfg-options', f'train_dataloader.dataset.data_root={root}',
        'crop_size=(16,16)'])
    tool.main()
    files = sorted(os.listdir(out))
    assert len(files) == 2 and files[0].endswith('_0001.png')
    import cv2
    pic = cv2.imread(osp.join(out, files[0]))
    assert pic.shape[1] > 5 * 16        # image + 4 tasks side by side
