"""What a dynamic ONNX graph costs in ONNX Runtime against a static one.

Exports a config's model (seeded random weights) twice at one size, with a
static shape and with ``--dynamic`` (batch, height, width; Swin's shifted
windows and patch padding through the traceable forwards), and times one
batch-1 forward of each file in ONNX Runtime (CPU execution provider) as
process CPU time, rounds alternating between the files. Prints JSON.

    OMP_NUM_THREADS=1 python .dev_scripts/onnx_dynamic_cost.py \\
        configs/mtlsi/swin-t_nyud.py --shape 224 288 --rounds 5
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from mmengine.config import DictAction

from mmtlsi.apis.export import build_export_model, export_onnx, ort_session


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=(224, 288),
                        metavar=('H', 'W'))
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1,
                        help='ONNX Runtime intra-op threads')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    model = build_export_model(args.config, None, args.cfg_options)
    x = np.random.default_rng(0).standard_normal(
        (1, 3, *args.shape)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        sessions = {}
        for name, dynamic in (('static', False), ('dynamic', True)):
            out = export_onnx(model, Path(tmp) / f'{name}.onnx', args.shape,
                              dynamic=dynamic)
            sessions[name] = ort_session(out, args.threads)
            sessions[name].run(None, {'inputs': x})    # warm-up
        times = {name: [] for name in sessions}
        for _ in range(args.rounds):
            for name, session in sessions.items():
                start = time.process_time()
                session.run(None, {'inputs': x})
                times[name].append(time.process_time() - start)
    result = {name: dict(median=float(np.median(t)), min=float(min(t)),
                         times=t) for name, t in times.items()}
    result['dynamic_over_static'] = \
        result['dynamic']['median'] / result['static']['median']
    print(json.dumps(dict(config=args.config, shape=list(args.shape),
                          threads=args.threads, **result)))


if __name__ == '__main__':
    main()
