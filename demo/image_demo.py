"""Predict every task of a multi-task model on one image and draw them.

``python demo/image_demo.py IMG CONFIG CHECKPOINT [--out-file PATH]
[--device cpu] [--show] [--partial-load]``

The checkpoint must fit the config's model exactly; otherwise the demo stops
naming the file and the keys (``--partial-load``: load what fits on purpose).
"""
import argparse
import os.path as osp
import sys

import mmcv

import mmtlsi  # noqa: F401  (applies mmtlsi.compat before mmseg)
from mmtlsi.apis import CheckpointMismatchError, inference_model, init_model
from mmtlsi.apis.run_config import add_cfg_options_argument
from mmtlsi.visualization import MultiTaskVisualizer


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw every task a multi-task model predicts on an image')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-file', default=None,
                        help='where to write the picture (PNG/JPG)')
    parser.add_argument('--device', default='cpu',
                        help="device, e.g. 'cpu' or 'cuda:0'")
    parser.add_argument('--show', action='store_true',
                        help='show the picture in a window')
    parser.add_argument('--wait-time', type=float, default=0,
                        help='seconds the window stays open (0: until a key)')
    parser.add_argument('--alpha', type=float, default=1.0,
                        help='opacity of class colours over the image')
    parser.add_argument('--partial-load', action='store_true',
                        help='load a checkpoint that fits the model only in '
                        'part (what does not fit is listed)')
    add_cfg_options_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.out_file is None and not args.show:
        args.out_file = osp.splitext(osp.basename(args.img))[0] + '_mtl.png'
    try:
        model = init_model(args.config, args.checkpoint, device=args.device,
                           cfg_options=args.cfg_options,
                           strict=not args.partial_load)
    except (CheckpointMismatchError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    result = inference_model(model, args.img)[0]
    visualizer = MultiTaskVisualizer(
        name='image_demo', alpha=args.alpha,
        task_cfg=model.cfg.get('task_cfg'))
    visualizer.dataset_meta = dict(model.dataset_meta or {})
    image = mmcv.imread(args.img, channel_order='rgb')
    visualizer.add_datasample(
        osp.basename(args.img), image, result, draw_gt=False,
        show=args.show, wait_time=args.wait_time, out_file=args.out_file)
    if args.out_file:
        print(f'picture written to {args.out_file}')


if __name__ == '__main__':
    main()
