"""Export a multi-task model to ONNX and check it in ONNX Runtime.

``python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT [--out FILE]
[--shape H W] [--dynamic] [--opset N] [--exporter torchscript|dynamo]
[--with-preprocess [--image-dtype uint8|float32]] [--no-check]
[--check-shape N H W] [--benchmark] [--cfg-options KEY=VALUE ...]``

The graph takes the normalised, padded image (N, 3, H, W) and returns every
task's final map, named after the task, before its activation
(docs/deployment.md); with ``--with-preprocess`` it takes the image as
loaded and holds the data preprocessor's normalisation and padding. The
check runs the file in ONNX Runtime and compares every output with PyTorch
(at the export shape, with ``--dynamic`` also at a second size, batch 2,
and at each ``--check-shape``); it stops with an error when one differs by
more than ``--tolerance``. ``--random-weights``
exports without a checkpoint.
"""
from __future__ import annotations

import argparse
import json

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (loaded strictly)')
    parser.add_argument('--random-weights', action='store_true',
                        help='no checkpoint: seeded random weights')
    parser.add_argument('--out', default=None,
                        help='ONNX file (default: CONFIG name + .onnx)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='example input size (default: the data '
                        "preprocessor's test size)")
    parser.add_argument('--dynamic', action='store_true',
                        help='dynamic batch, height and width')
    parser.add_argument('--with-preprocess', action='store_true',
                        help='the graph takes the image as loaded and '
                        'normalises / pads it itself')
    parser.add_argument('--image-dtype', default='uint8',
                        choices=['uint8', 'float32'],
                        help='dtype of the --with-preprocess image')
    parser.add_argument('--opset', type=int, default=None,
                        help='ONNX opset (default 17; 18 for dynamo)')
    parser.add_argument('--exporter', default='torchscript',
                        choices=['torchscript', 'dynamo'])
    parser.add_argument('--no-check', action='store_true',
                        help='skip the comparison with PyTorch')
    parser.add_argument('--check-shape', type=int, nargs=3, action='append',
                        metavar=('N', 'H', 'W'), default=[],
                        help='also check at this input size (repeatable)')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='bound on max|ort - torch| / max|torch|')
    parser.add_argument('--benchmark', action='store_true',
                        help='CPU time of ONNX Runtime and eager fp32/bf16')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1,
                        help='threads of the benchmark (both runtimes)')
    parser.add_argument('--images', nargs='+', default=None,
                        help='also compare inference_onnx with '
                        'inference_model on these image files')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides (checked keys)')
    args = parser.parse_args(argv)
    if (args.checkpoint is None) == (not args.random_weights):
        parser.error('give a CHECKPOINT or --random-weights (not both)')
    return args


def main(argv=None):
    args = parse_args(argv)
    from pathlib import Path

    from mmtlsi.apis.export import (
        benchmark_onnx,
        build_export_model,
        check_onnx,
        check_shapes,
        default_shape,
        export_onnx,
        onnx_input_spec,
    )
    model = build_export_model(args.config, args.checkpoint,
                               args.cfg_options)
    shape = tuple(args.shape) if args.shape else default_shape(model)
    out = Path(args.out or Path(args.config).stem + '.onnx')
    export_onnx(model, out, shape, dynamic=args.dynamic, opset=args.opset,
                exporter=args.exporter,
                with_preprocess=args.image_dtype if args.with_preprocess
                else None)
    image = f'image ({args.image_dtype}, as loaded)' \
        if args.with_preprocess else 'inputs'
    print(f'wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): input '
          f'{image} (N, 3, {shape[0]}, {shape[1]})'
          f'{" dynamic N, H, W" if args.dynamic else ""}; outputs '
          + ', '.join(f'{t} ({s.out_channels} ch, {s.output})'
                      for t, s in model.task_specs.items()))
    if args.dynamic:
        spec = onnx_input_spec(out)
        least = spec.get('min_hw')
        range_ = (f'any image, padded in the graph as {spec["pads_to"]}'
                  if spec.get('preprocess') else
                  f'multiples of {spec["multiple_of"]}')
        print(f'dynamic H, W: {range_}' + (
            f'; the model input at least {least[0]} x {least[1]}'
            if least else ''))
    if not args.no_check:
        shapes = check_shapes(model, shape, args.dynamic)
        rows = check_onnx(model, out, shapes + [
            tuple(s) for s in args.check_shape if tuple(s) not in shapes],
            tolerance=args.tolerance)
        print('check against PyTorch (max|ort - torch| / max|torch|):')
        for r in rows:
            print(f'  {r["task"]:12s} input {r["shape"]}: max abs '
                  f'{r["max_abs"]:.3g}, relative {r["max_rel"]:.3g} '
                  f'(bound {r["bound"]:g})')
    if args.images:
        compare_on_images(model, out, args.images)
    if args.benchmark:
        result = benchmark_onnx(model, out, shape, rounds=args.rounds,
                                threads=args.threads)
        cpu = result.pop('cpu')
        print(f'CPU time per forward, batch 1, {shape[0]}x{shape[1]}, '
              f'{cpu["threads"]} thread(s), median of {args.rounds}:')
        for name, r in result.items():
            print(f'  {name:12s} {r["median"]:.4f} s (min {r["min"]:.4f})')
        if cpu['native_bf16'] is False:
            from mmtlsi.models.optimize import cpu_native_bf16
            print(f'  {cpu_native_bf16()[1]}')
        print(json.dumps(dict(result, cpu=cpu)))


def compare_on_images(model, onnx_file, images):
    from mmtlsi.apis.onnx_inference import (
        OnnxMultiTaskPredictor,
        compare_predictions,
    )
    rows = compare_predictions(model, OnnxMultiTaskPredictor(onnx_file),
                               images)
    print(f'inference_onnx against inference_model, {len(images)} '
          'image(s):')
    for task, r in rows.items():
        print(f'  {task:12s} max abs difference {r["max_abs"]:.3g}, '
              f'same value on {100 * r["agreement"]:.3f}% of pixels')


if __name__ == '__main__':
    main()
