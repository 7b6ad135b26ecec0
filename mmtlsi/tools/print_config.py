"""Print the merged config: ``python -m mmtlsi.tools.print_config CONFIG``.

``--cfg-options`` is checked as in training (only keys the config has;
``+KEY=VALUE`` adds one); ``--save-path`` also writes the merged config.
"""
import argparse
import sys

from mmengine.config import Config

import mmtlsi  # noqa: F401  (registers ``mmtlsi::`` configs)
from mmtlsi.apis.run_config import (
    ConfigOptionError,
    add_cfg_options_argument,
    merge_cfg_options,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    add_cfg_options_argument(parser)
    parser.add_argument(
        '--save-path', help='also write the merged config to this file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = merge_cfg_options(Config.fromfile(args.config),
                                args.cfg_options)
    except (ConfigOptionError, FileNotFoundError, SyntaxError) as e:
        sys.exit(f'error: {e}')
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        cfg.dump(args.save_path)
        print(f'Config saved to {args.save_path}')


if __name__ == '__main__':
    main()
