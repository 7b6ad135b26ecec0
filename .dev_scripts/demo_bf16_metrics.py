"""Test a checkpoint twice, with fp32 and with bf16 weights (the
``InferenceDtypeHook`` that ``tools/test.py --dtype`` adds), and print both
metric sets and the differences.

    python .dev_scripts/demo_bf16_metrics.py CONFIG CHECKPOINT [--work-dir D]
"""
import argparse
import json

from mmengine.config import Config
from mmengine.runner import Runner

import mmtlsi.engine  # noqa: F401  (registers InferenceDtypeHook)

KEYS = ('semseg/mIoU', 'depth/rmse', 'normals/mean', 'edge/odsF')


def test_metrics(cfg_path, checkpoint, work_dir, dtype):
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='InferenceDtypeHook', dtype=dtype)]
    metrics = Runner.from_cfg(cfg).test()
    return {k: float(v) for k, v in metrics.items() if k in KEYS}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--work-dir', default='work_dirs/bf16_metrics')
    args = p.parse_args()
    res = {name: test_metrics(args.config, args.checkpoint, args.work_dir,
                              dtype)
           for name, dtype in (('fp32', 'fp32'), ('bf16', 'bf16'))}
    res['bf16 - fp32'] = {k: res['bf16'][k] - res['fp32'][k]
                          for k in res['fp32']}
    print(json.dumps(res, indent=1))


if __name__ == '__main__':
    main()
