"""Print the merged config: ``python tools/misc/print_config.py CONFIG``."""
import argparse

from mmengine.config import Config, DictAction

import mmtlsi  # noqa: F401
from mmtlsi.apis.run_config import merge_cfg_options


def parse_args():
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings, key=value')
    parser.add_argument(
        '--save-path', help='also write the merged config to this file')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        cfg.dump(args.save_path)
        print(f'Config saved to {args.save_path}')


if __name__ == '__main__':
    main()
