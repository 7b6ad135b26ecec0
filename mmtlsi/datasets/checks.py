"""Checks of a multi-task dataset's files, as ``check_dataset`` runs them.

:func:`check_dataset` builds each split of a dataset config and reports, each
with its file: split files that are missing, empty or not UTF-8; missing and
unreadable files; maps whose size differs from the image; class ids outside
the dataset's classes; NaN/inf, negative or no valid depth; normals far from
unit length; binary maps with values other than 0/1; files in the annotation
folders that no split lists.
"""
import os
import os.path as osp
from collections import defaultdict
from typing import Sequence

import numpy as np
from tqdm import tqdm

from mmtlsi.registry import DATASETS

from .decoders import decode, read_label_map, read_png_array
from .transforms.loading import check_class_ids

#: split names looked for besides the ones asked for (ids only)
KNOWN_SPLITS = ('train', 'val', 'test')


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


def build_split(ds_cfg, split):
    return DATASETS.build(dict(ds_cfg, split=split, check_files=False,
                               lazy_init=True, serialize_data=False,
                               pipeline=[]))


def referenced_files(info):
    files = [info['img_path']]
    for ann in info['ann_info'].values():
        files += [v for k, v in ann.items()
                  if (k == 'path' or k.endswith('_path')) and v]
    return files


def check_sample(ds, info, report):
    img_path = info['img_path']
    try:
        img = read_png_array(img_path)
        if img.ndim != 3 or img.shape[2] < 3:
            report.add('image is not RGB', img_path, f'shape {img.shape}')
    except FileNotFoundError:
        report.add('missing file', img_path)
        return
    except Exception as e:
        report.add('unreadable file', img_path, str(e))
        return
    shape = img.shape[:2]
    for task, ann in info['ann_info'].items():
        ann = dict(ann)
        name, path = ann.pop('decoder'), ann.pop('path')
        spec = ds.task_specs[task]
        missing = [p for p in [path] + [v for k, v in ann.items()
                                         if k.endswith('_path')]
                   if p and not osp.isfile(p)]
        if missing:
            for p in missing:
                report.add('missing file', p)
            continue
        try:
            arr = decode(name, path, **ann)
        except Exception as e:
            report.add(f'invalid {spec.output} map'
                       if 'NaN' in str(e) else 'unreadable file', path,
                       str(e))
            continue
        if arr.size and tuple(arr.shape[:2]) != tuple(shape):
            report.add('size differs from image', path,
                       f'{arr.shape[1]}x{arr.shape[0]} vs image '
                       f'{shape[1]}x{shape[0]} ({img_path})')
        check_values(ds, task, name, path, arr, report)
        for key, extra in ann.items():          # e.g. the LabelMap
            if key.endswith('_path'):
                lm = read_label_map(extra)
                if lm.shape != tuple(shape):
                    report.add('size differs from image', extra,
                               f'{lm.shape[1]}x{lm.shape[0]} vs image '
                               f'{shape[1]}x{shape[0]}')


def check_values(ds, task, decoder, path, arr, report):
    spec = ds.task_specs[task]
    if spec.output == 'classes' and arr.size:
        try:
            check_class_ids(arr, ds.num_classes(task), spec.ignore_index,
                            task, path)
        except ValueError as e:
            report.add('class id out of range', path,
                       str(e).split(': ', 1)[-1])
    elif spec.output == 'scalar':
        if not (arr > 0).any():
            report.add(f'invalid {task}', path, 'no valid (> 0) pixel')
        elif (arr < 0).any():
            report.add(f'invalid {task}', path, 'negative values')
        elif task == 'depth' and arr.max() > 100:
            report.add('suspicious depth', path,
                       f'max {arr.max():.1f} m (millimetres?)')
    elif spec.output == 'vector':
        norm = np.linalg.norm(arr, axis=-1)
        valid = norm > 0
        if valid.any():
            off = np.abs(norm[valid] - 1) > 0.1
            if off.mean() > 0.01:
                report.add(f'{task} not unit length', path,
                           f'{100 * off.mean():.1f}% of valid pixels')
    elif spec.output == 'binary' and arr.size:
        allowed = {0, 1} | ({spec.ignore_index}
                            if spec.ignore_index is not None else set())
        values = set(np.unique(arr).tolist())
        if not values <= allowed:
            report.add(f'{task} values not 0/1', path,
                       f'values {sorted(values - allowed)[:10]}')
        if decoder == 'nyud_edge_png':
            raw = set(np.unique(read_png_array(path)).tolist())
            if not raw <= {0, 255}:
                report.add(f'{task} values not 0/255', path,
                           f'values {sorted(raw)[:10]}')


def extra_files(listed, report):
    """Files in the folders the samples use that no split lists."""
    folders = {osp.dirname(p) for p in listed}
    for folder in sorted(folders):
        if not osp.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = osp.join(folder, name)
            if osp.isfile(path) and path not in listed:
                report.add('extra file (in no split)', path)


def check_dataset(ds_cfg: dict, splits: Sequence[str]) -> Report:
    """Check the samples of ``splits`` of the dataset ``ds_cfg`` (a dataset
    config without ``split``); the other known splits are read for their
    ids only, so that their files are not reported as extra."""
    report = Report()
    listed = set()
    for split in splits:
        try:
            ds = build_split(ds_cfg, split)
            data_list = ds.load_data_list()
        except FileNotFoundError as e:
            report.add('missing file', str(e).split('\n')[0])
            continue
        except ValueError as e:         # empty or undecodable split file
            report.add('split file', str(e))
            continue
        n_classes = {t: ds.num_classes(t) for t, s in ds.task_specs.items()
                     if s.output == 'classes'}
        print(f'{split}: {len(data_list)} samples ({ds.layout_name()}; '
              f'tasks {", ".join(ds.tasks)}; classes {n_classes})')
        for info in tqdm(data_list, desc=f'checking {split}'):
            listed.update(referenced_files(info))
            check_sample(ds, info, report)
    for split in KNOWN_SPLITS:          # ids of the splits not checked
        if split in splits:
            continue
        try:
            for info in build_split(ds_cfg, split).load_data_list():
                listed.update(referenced_files(info))
        except (FileNotFoundError, ValueError):
            pass
    extra_files(listed, report)
    return report
