"""Plot training curves and compute training time from mmengine's logs.

``python -m mmtlsi.tools.analyze_logs plot_curve WORK_DIR_OR_JSON
[WORK_DIR_OR_JSON ...] [--keys loss semseg/mIoU ...] [--out PNG]
[--title T] [--legend L ...]``

``python -m mmtlsi.tools.analyze_logs cal_train_time
WORK_DIR_OR_JSON [...] [--include-outliers]``

See :mod:`mmtlsi.visualization.training_logs` for the files read.
"""
import argparse

from mmtlsi.visualization.training_logs import (  # noqa: F401
    cal_train_time,
    default_keys,
    find_scalar_log,
    load_scalar_log,
    parse_curves,
    plot_curve,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyse mmengine logs')
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot loss / metric curves')
    plot.add_argument('logs', nargs='+',
                      help='work dirs or vis_data/*.json files')
    plot.add_argument('--keys', nargs='+', default=None,
                      help='keys to plot (default: loss and all metrics)')
    plot.add_argument('--out', default=None, help='PNG to write')
    plot.add_argument('--title', default=None)
    plot.add_argument('--legend', nargs='+', default=None,
                      help='one name per log')
    timing = sub.add_parser('cal_train_time',
                            help='time per iteration of training')
    timing.add_argument('logs', nargs='+',
                        help='work dirs or vis_data/*.json files')
    timing.add_argument('--include-outliers', action='store_true',
                        help='keep the first logged line')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.task == 'plot_curve':
        return plot_curve(args.logs, args.keys, args.out, args.title,
                          args.legend)
    results = {}
    for path in args.logs:
        stats = cal_train_time(load_scalar_log(path), args.include_outliers)
        results[path] = stats
        print(f'{"-" * 10} {find_scalar_log(path)} {"-" * 10}')
        print(f'average time per iteration: '
              f'{stats["mean_s_per_iter"]:.4f} s '
              f'(std {stats["std_s_per_iter"]:.4f}, slowest '
              f'{stats["slowest_s_per_iter"]:.4f}, fastest '
              f'{stats["fastest_s_per_iter"]:.4f})')
        if 'mean_data_s_per_iter' in stats:
            print(f'average data time per iteration: '
                  f'{stats["mean_data_s_per_iter"]:.4f} s')
        print(f'estimated time for {stats["last_iter"]} iterations: '
              f'{stats["total_h_estimate"]:.2f} h')
    return results


if __name__ == '__main__':
    main()
