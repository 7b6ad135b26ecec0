"""Gather several runs' result JSON files into one comparison table.

    python tools/analysis_tools/collect_results.py RUN1.json RUN2.json ... \
        [--out table.md] [--format markdown|text] [--names A B ...]

Each file is a record written by ``mmtlsi.evaluation.dump_results`` (what
``tools/test.py`` writes) or a plain metrics dict; one row per file, columns as
in the paper's Table I.
"""
import argparse

from mmtlsi.evaluation.report import comparison_table, load_results


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('files', nargs='+', help='result JSON files')
    p.add_argument('--out', help='write the table to this file')
    p.add_argument('--format', default='markdown',
                   choices=['markdown', 'text'])
    p.add_argument('--names', nargs='+', help='row names (default: stored)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    records = [load_results(f) for f in args.files]
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
