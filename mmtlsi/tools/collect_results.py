"""Gather several runs' result JSON files into one comparison table.

    python -m mmtlsi.tools.collect_results RUN1.json RUN2.json ... \
        [--out table.md] [--format markdown|text] [--names A B ...]
    python -m mmtlsi.tools.collect_results work_dirs/

Each file is a record written by ``mmtlsi.evaluation.dump_results`` (what
``tools/test.py`` writes) or a plain metrics dict; one row per file, columns as
in the paper's Table I. A folder stands for every record below it. The
metrics JSON that mmengine's logger writes beside a record (the same run's
numbers) is skipped, and said so.
"""
import argparse
import glob
import json
import os.path as osp

from mmtlsi.evaluation.report import comparison_table, load_results


def is_record(path: str) -> bool:
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and 'metrics' in data and 'tasks' in data


def result_files(paths):
    """Records and plain metrics files of ``paths`` (folders searched for
    records), without a plain file that sits beside a record."""
    files = []
    for path in paths:
        if osp.isdir(path):
            files += [f for f in sorted(glob.glob(
                osp.join(path, '**', '*.json'), recursive=True))
                if is_record(f)]
        else:
            files.append(path)
    records = {f for f in files if is_record(f)}
    folders = {osp.dirname(osp.abspath(f)) for f in records}
    kept = []
    for f in files:
        if f not in records and osp.dirname(osp.abspath(f)) in folders:
            print(f'skipped {f}: the logger\'s copy of the metrics of a '
                  'record in the same folder')
            continue
        kept.append(f)
    return kept


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('files', nargs='+', help='result JSON files or folders')
    p.add_argument('--out', help='write the table to this file')
    p.add_argument('--format', default='markdown',
                   choices=['markdown', 'text'])
    p.add_argument('--names', nargs='+', help='row names (default: stored)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    files = result_files(args.files)
    if not files:
        raise SystemExit(f'no result file in {" ".join(args.files)}')
    records = [load_results(f) for f in files]
    if args.names:
        if len(args.names) != len(records):
            raise SystemExit('--names needs one name per file')
        for r, n in zip(records, args.names):
            r['name'] = n
    table = comparison_table(records, args.format)
    print(table)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(table + '\n')
    return table


if __name__ == '__main__':
    main()
