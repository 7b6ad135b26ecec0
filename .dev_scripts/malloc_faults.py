"""Page faults and system time of repeated forwards, with the process's
freed memory kept (``retain``) or given back (``system``, glibc's
defaults): each mode in a fresh process, interleaved.

    OMP_NUM_THREADS=2 python .dev_scripts/malloc_faults.py \
        configs/mtlsi/swin-t_nyud.py --shape 448 576 --calls 6 --rounds 2
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def one_process(config, shape, calls):
    import torch

    from mmtlsi.apis.analysis import build_model_for_analysis, make_predict_fn
    from mmtlsi.utils.allocator import retain_freed_memory
    mode = retain_freed_memory()
    model = build_model_for_analysis(config)
    fn = make_predict_fn(model, shape, 1)
    rows = []
    with torch.no_grad():
        fn()                                   # first call: not counted
        for _ in range(calls):
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            fn()
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            rows.append(dict(wall_s=wall,
                             minor_faults=after.ru_minflt - before.ru_minflt,
                             sys_s=after.ru_stime - before.ru_stime))
    return dict(mode=mode, calls=rows,
                max_rss_mib=resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss / 1024)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', nargs=2, type=int, default=[448, 576])
    parser.add_argument('--calls', type=int, default=6)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_process(args.config, args.shape, args.calls)))
        return
    print('| mode | round | wall s per call (median) | minor faults per call '
          '(median) | system s per call (median) | max RSS (MiB) |')
    print('|---|---|---|---|---|---|')
    for round_ in range(1, args.rounds + 1):
        for mode in ('system', 'retain'):
            out = subprocess.run(
                [sys.executable, __file__, args.config, '--shape',
                 *map(str, args.shape), '--calls', str(args.calls),
                 '--child'], env=dict(os.environ, MMTLSI_MALLOC=mode),
                check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])

            def median(key, r=r):
                values = sorted(c[key] for c in r['calls'])
                return values[len(values) // 2]
            print(f"| {mode} | {round_} | {median('wall_s'):.2f} | "
                  f"{median('minor_faults'):.0f} | {median('sys_s'):.2f} | "
                  f"{r['max_rss_mib']:.0f} |")


if __name__ == '__main__':
    main()
