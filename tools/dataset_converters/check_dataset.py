"""Check a NYUDv2 or PASCAL-Context multi-task folder before training.

    python tools/dataset_converters/check_dataset.py DATA_ROOT \
        --dataset {nyud,pascal} [--splits train val] [--max-report N]

Reports, each with its file: missing files, files no split lists (extra),
unreadable files, maps whose size differs from the image, label values out
of range, NaN/inf or negative depth, normals far from unit length. Exits
with status 1 when it found a problem.
"""
import argparse
import os
import os.path as osp
import sys
from collections import defaultdict

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import mmtlsi  # noqa: E402,F401
from mmtlsi.datasets.decoders import decode, read_label_map, read_png_array  # noqa: E402
from mmtlsi.datasets.nyud import NYUDv2Dataset  # noqa: E402
from mmtlsi.datasets.pascal_context import PascalContextMTDataset  # noqa: E402

DATASETS = dict(nyud=NYUDv2Dataset, pascal=PascalContextMTDataset)
NUM_CLASSES = dict(nyud=40, pascal=21)
# folders whose files are one per image id: (folder, extensions)
TASK_DIRS = dict(
    nyud=('images', 'segmentation', 'depth', 'normals', 'edge'),
    pascal=('JPEGImages', 'semseg/VOC12', 'semseg/pascal-context',
            'human_parts', 'normals_distill', 'sal_distill',
            'pascal-context/trainval'))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('data_root')
    p.add_argument('--dataset', choices=sorted(DATASETS), required=True)
    p.add_argument('--splits', nargs='+', default=['train', 'val'])
    p.add_argument('--max-report', type=int, default=50,
                   help='problems printed per kind (all are counted)')
    return p.parse_args()


class Report:
    def __init__(self):
        self.problems = defaultdict(list)

    def add(self, kind, path, msg=''):
        self.problems[kind].append((path, msg))

    def print(self, limit):
        total = sum(len(v) for v in self.problems.values())
        for kind, items in sorted(self.problems.items()):
            print(f'\n{kind}: {len(items)}')
            for path, msg in items[:limit]:
                print(f'  {path}' + (f': {msg}' if msg else ''))
            if len(items) > limit:
                print(f'  ... and {len(items) - limit} more')
        print(f'\n{total} problem(s) found' if total
              else '\nno problems found')
        return total


def check_sample(kind, info, report):
    img_path = info['img_path']
    try:
        img = read_png_array(img_path)
        if img.ndim != 3 or img.shape[2] < 3:
            report.add('image is not RGB', img_path, f'shape {img.shape}')
    except Exception as e:
        report.add('unreadable file', img_path, str(e))
        return
    shape = img.shape[:2]
    for task, ann in info['ann_info'].items():
        ann = dict(ann)
        name, path = ann.pop('decoder'), ann.pop('path')
        try:
            arr = decode(name, path, **ann)
        except FileNotFoundError as e:
            report.add('missing file', str(e).split(': ', 1)[-1])
            continue
        except Exception as e:
            kind_ = 'invalid depth' if task == 'depth' else 'unreadable file'
            report.add(kind_, path, str(e))
            continue
        if arr.size and tuple(arr.shape[:2]) != tuple(shape):
            report.add('size differs from image', path,
                       f'{arr.shape[1]}x{arr.shape[0]} vs image '
                       f'{shape[1]}x{shape[0]} ({img_path})')
        check_values(kind, task, name, path, arr, report)
        for key, extra in ann.items():          # e.g. the LabelMap
            if key.endswith('_path') and osp.isfile(extra):
                lm = read_label_map(extra)
                if lm.shape != tuple(shape):
                    report.add('size differs from image', extra,
                               f'{lm.shape[1]}x{lm.shape[0]} vs image '
                               f'{shape[1]}x{shape[0]}')


def check_values(kind, task, decoder, path, arr, report):
    if task == 'semseg':
        labels = np.unique(arr)
        bad = labels[(labels >= NUM_CLASSES[kind]) & (labels != 255)]
        if bad.size:
            report.add('label out of range', path,
                       f'values {bad.tolist()[:10]} (classes: '
                       f'0..{NUM_CLASSES[kind] - 1}, 255 ignore)')
    elif task == 'depth':
        if not (arr > 0).any():
            report.add('invalid depth', path, 'no valid (> 0) pixel')
        elif arr.max() > 100:
            report.add('suspicious depth', path,
                       f'max {arr.max():.1f} m (millimetres?)')
    elif task == 'normals':
        norm = np.linalg.norm(arr, axis=-1)
        valid = norm > 0
        if valid.any():
            off = np.abs(norm[valid] - 1) > 0.1
            if off.mean() > 0.01:
                report.add('normals not unit length', path,
                           f'{100 * off.mean():.1f}% of valid pixels')
    elif task == 'edge' and decoder == 'nyud_edge_png':
        raw = np.unique(read_png_array(path))
        if not set(raw.tolist()) <= {0, 255}:
            report.add('edge values not 0/255', path,
                       f'values {raw.tolist()[:10]}')


def extra_files(root, kind, ids, report):
    for folder in TASK_DIRS[kind]:
        d = osp.join(root, folder)
        if not osp.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            stem = osp.splitext(f)[0]
            if osp.isfile(osp.join(d, f)) and stem not in ids:
                report.add('extra file (in no split)', osp.join(d, f))


def main():
    args = parse_args()
    report = Report()
    ids = set()
    for split in args.splits:
        try:
            ds = DATASETS[args.dataset](
                data_root=args.data_root, split=split, check_files=False,
                lazy_init=True, serialize_data=False)
            data_list = ds.load_data_list()
        except FileNotFoundError as e:
            report.add('missing file', str(e).split('\n')[0])
            continue
        print(f'{split}: {len(data_list)} samples '
              f'({ds.layout_name()})')
        for info in tqdm(data_list, desc=f'checking {split}'):
            ids.add(info['img_id'])
            check_sample(args.dataset, info, report)
    extra_files(args.data_root, args.dataset, ids, report)
    return 1 if report.print(args.max_report) else 0


if __name__ == '__main__':
    sys.exit(main())
