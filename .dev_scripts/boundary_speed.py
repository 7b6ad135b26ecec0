"""Time the boundary metric (SEISM odsF counts) on synthetic NYUDv2-size maps.

``python .dev_scripts/boundary_speed.py [--num-images 12]
[--nproc 1 2] [--size 425 560]``

Each image is a 425x560 label map of 24 random rectangles (the ground truth,
scored through seg2bmap as NYUDv2) and a prediction made of its boundaries,
shifted by a pixel, blurred, plus smooth noise, so that NMS leaves ~40k pixels
above the lowest threshold. For every ``--nproc`` the images are scored with
``boundary_counts`` (101 thresholds, ``max_dist`` 0.011) in a process pool and
the wall time per image and the projection to NYUDv2's 654 validation images
are printed (the images are made before the timing starts), with the CPU time
per image for one process and that of the NMS alone (CPU time depends less on
other jobs sharing the machine).
"""
import argparse
import multiprocessing as mp
import time

import numpy as np
from scipy import ndimage

from mmtlsi.evaluation.functional import boundary as fb
from mmtlsi.evaluation.functional.boundary_nms import edge_nms
from mmtlsi.utils.edge_maps import quantize_edge_map

NYUD_VAL = 654


def synthetic_pair(seed: int, h: int = 425, w: int = 560):
    """(prediction in [0, 1] float32, label map int64) of one fake image."""
    rng = np.random.default_rng(seed)
    seg = np.zeros((h, w), np.int64)
    for k in range(24):
        y0, x0 = rng.integers(0, h - 20), rng.integers(0, w - 20)
        y1 = min(h, y0 + int(rng.integers(20, h // 2)))
        x1 = min(w, x0 + int(rng.integers(20, w // 2)))
        seg[y0:y1, x0:x1] = k + 1
    bmap = fb.seg2bmap(seg).astype(np.float32)
    bmap = np.roll(bmap, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))),
                   axis=(0, 1))
    pred = ndimage.gaussian_filter(bmap, 1.5) * 3.0
    noise = ndimage.gaussian_filter(rng.random((h, w)).astype(np.float32),
                                    1.2)
    pred = pred + 0.1 * (noise - noise.mean()) / noise.std() + 0.05
    return np.clip(pred, 0, 1).astype(np.float32), seg


_IMAGES = []     # made before the pool starts; forked workers inherit them


def _job(index):
    pred, seg = _IMAGES[index]
    return fb.boundary_counts(pred, seg, 101, 0.011)


def run(nproc):
    """(wall seconds, CPU seconds of this process) of scoring all
    ``_IMAGES``; the CPU time is the work itself with ``nproc`` 1, on a
    machine shared with other jobs."""
    args = list(range(len(_IMAGES)))
    c0 = time.process_time()
    t0 = time.perf_counter()
    if nproc > 1:
        ctx = mp.get_context('fork')
        with ctx.Pool(nproc) as pool:
            pool.map(_job, args, chunksize=1)
    else:
        for a in args:
            _job(a)
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=12)
    parser.add_argument('--nproc', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--size', type=int, nargs=2, default=(425, 560))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    h, w = args.size
    seeds = list(range(args.seed, args.seed + args.num_images))

    _IMAGES[:] = [synthetic_pair(s, h, w) for s in seeds]
    pred, seg = _IMAGES[0]
    edge = edge_nms(quantize_edge_map(pred))
    print(f'{h}x{w}, {len(seeds)} images; image 0: '
          f'{int((edge > 0.001).sum())} NMS pixels > 0.001, '
          f'{int(fb.gt_boundary_map(seg).sum())} GT boundary pixels')
    # warm-up (numba: load or compile the kernels) outside the timing
    fb.boundary_counts(pred[:40, :40], seg[:40, :40])

    c0 = time.process_time()
    for pred, _ in _IMAGES:
        edge_nms(quantize_edge_map(pred))
    nms_cpu = (time.process_time() - c0) / len(seeds)
    print(f'NMS alone: {nms_cpu:.3f} s/image CPU')
    for nproc in args.nproc:
        sec, cpu = run(nproc)
        per = sec / len(seeds)
        cpu_txt = f', {cpu / len(seeds):.3f} s/image CPU' if nproc == 1 \
            else ''
        print(f'nproc {nproc}: {per:.3f} s/image wall{cpu_txt}, '
              f'{per * NYUD_VAL / 60:.1f} min projected for {NYUD_VAL} '
              'images')


if __name__ == '__main__':
    main()
