"""Write errors name the file: disk full (ENOSPC names none by itself)."""
import errno
import os
import os.path as osp

import numpy as np
import pytest

from mmtlsi.datasets.synthesis import writer
from mmtlsi.evaluation import report
from mmtlsi.utils import naming_path

needs_dev_full = pytest.mark.skipif(not osp.exists('/dev/full'),
                                    reason='needs /dev/full')


@needs_dev_full
def test_disk_full_gets_the_path():
    with pytest.raises(OSError) as info:
        with naming_path('/dev/full'), open('/dev/full', 'wb') as f:
            f.write(b'x' * 8192)
    assert info.value.errno == errno.ENOSPC
    assert '/dev/full' in str(info.value)


def test_error_that_names_its_file_passes_unchanged(tmp_path):
    missing = tmp_path / 'no_such_dir' / 'a.txt'
    with pytest.raises(FileNotFoundError) as info:
        with naming_path('something else'), open(missing, 'w'):
            pass
    assert info.value.filename == str(missing)
    assert 'something else' not in str(info.value)


@needs_dev_full
def test_synthetic_writers_name_the_file_on_a_full_disk():
    for write in (lambda p: writer._write_png(p, np.zeros((4, 4), np.uint8)),
                  lambda p: writer._write_text(p, 'train_00000\n' * 1000),
                  lambda p: writer.write_mat(p, dict(a=np.zeros((8, 8))))):
        with pytest.raises(OSError, match='/dev/full') as info:
            write('/dev/full')
        assert info.value.errno == errno.ENOSPC


def test_results_writer_names_the_file_on_a_full_disk(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(report.json, 'dump', full)
    prefix = str(tmp_path / 'run')
    with pytest.raises(OSError, match=r'run\.json') as info:
        report.dump_results(prefix, {'semseg/mIoU': 50.0}, ['semseg'])
    assert info.value.errno == errno.ENOSPC
