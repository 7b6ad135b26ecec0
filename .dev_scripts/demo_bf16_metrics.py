"""Test a checkpoint twice, with fp32 and with bf16 weights
(``optimize_for_inference(dtype='bf16')``), and print both metric sets and
the differences.

    python .dev_scripts/demo_bf16_metrics.py CONFIG CHECKPOINT [--work-dir D]
"""
import argparse
import json

from mmengine.config import Config
from mmengine.runner import Runner

from mmtlsi.models import optimize_for_inference

KEYS = ('semseg/mIoU', 'depth/rmse', 'normals/mean', 'edge/odsF')


def test_metrics(cfg_path, checkpoint, work_dir, dtype):
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    load = runner.load_or_resume

    def load_then_convert():
        load()
        runner.model.eval()
        if dtype is not None:
            optimize_for_inference(runner.model, fuse_bn=False, dtype=dtype)

    runner.load_or_resume = load_then_convert
    metrics = runner.test()
    return {k: float(v) for k, v in metrics.items() if k in KEYS}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--work-dir', default='work_dirs/bf16_metrics')
    args = p.parse_args()
    res = {name: test_metrics(args.config, args.checkpoint, args.work_dir,
                              dtype)
           for name, dtype in (('fp32', None), ('bf16', 'bf16'))}
    res['bf16 - fp32'] = {k: res['bf16'][k] - res['fp32'][k]
                          for k in res['fp32']}
    print(json.dumps(res, indent=1))


if __name__ == '__main__':
    main()
