"""Read every config the installed package ships through a downstream
config ``_base_ = 'mmtlsi::<path>'``; exit 1 naming each one that fails."""
import os
import os.path as osp
import sys
import tempfile

from mmengine.config import Config

import mmtlsi

root = osp.join(osp.dirname(mmtlsi.__file__), '.mim', 'configs')
names = sorted(osp.relpath(osp.join(d, f), root)
               for d, _, files in os.walk(root) for f in files
               if f.endswith('.py') and '_base_' not in d)
failed = []
with tempfile.TemporaryDirectory() as tmp:
    for name in names:
        path = osp.join(tmp, 'child.py')
        with open(path, 'w') as f:
            f.write(f"_base_ = 'mmtlsi::{name}'\n")
        try:
            cfg = Config.fromfile(path)
            assert 'model' in cfg, 'no model'
        except Exception as e:  # noqa: BLE001  (report every failure)
            failed.append(f'{name}: {type(e).__name__}: {e}')
print(f'{len(names) - len(failed)} of {len(names)} shipped configs '
      f"inherit as 'mmtlsi::...' from {root}")
if failed:
    print('\n'.join(failed))
    sys.exit(1)
