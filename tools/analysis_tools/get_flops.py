"""Parameters and FLOPs of a config's model, backbone and head separately.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
        [--cfg-options KEY=VALUE ...] [--time]

FLOPs are multiply-adds (fvcore / mmengine convention) of one forward of a
(1, 3, H, W) input; --shape defaults to the config's ``crop_size``. No
pretrained weights are loaded (the model is built, not initialised). --time
also reports the wall time of one forward (after a warm-up run).
"""
import argparse
import time

import torch
from mmengine import Config, DictAction
from mmengine.registry import init_default_scope

import mmtlsi  # noqa: F401
from mmtlsi.engine.config_utils import merge_cfg_options
from mmtlsi.registry import MODELS
from mmtlsi.utils import count_flops, count_parameters


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--no-flops', action='store_true',
                        help='parameters only (fast)')
    parser.add_argument('--time', action='store_true',
                        help='also time one forward on this machine')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    shape = tuple(args.shape or cfg.get('crop_size', (512, 512)))
    model = MODELS.build(cfg.model).eval()
    params = count_parameters(model)
    print(f'config: {args.config}  input: 1x3x{shape[0]}x{shape[1]}')
    rows = [('params', params)]
    if not args.no_flops:
        rows.append(('FLOPs', count_flops(model, shape)))
    print(f'{"":8s}{"total":>12s}{"backbone":>12s}{"head":>12s}')
    for name, v in rows:
        unit, div = ('M', 1e6) if name == 'params' else ('G', 1e9)
        print(f'{name:8s}' + ''.join(
            f'{v[k] / div:>11.2f}{unit}' for k in ('total', 'backbone',
                                                  'head')))
    if args.time:
        x = torch.randn(1, 3, *shape)
        with torch.no_grad():
            model(x, mode='tensor')
            start = time.perf_counter()
            model(x, mode='tensor')
        print(f'forward: {time.perf_counter() - start:.2f} s '
              f'({torch.get_num_threads()} threads)')


if __name__ == '__main__':
    main()
