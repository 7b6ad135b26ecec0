"""Convert a backbone checkpoint once to the layout mmtlsi's backbones take.

``python -m mmtlsi.tools.backbone2mm SRC DST [--config CONFIG]``

SRC is a local file or URL in any layout the configs' ``StrictPretrained``
reads: the official Swin release (``{'model': {'layers.N...'}}``, converted
with mmseg's ``swin2mmseg``), or an mm checkpoint (``state_dict`` / ``model``
wrappers, ``module.`` / ``backbone.`` prefixes). DST gets the backbone's
tensors (a classifier's head and neck left out) under the backbone's key
names. With ``--config`` SRC is first loaded into that config's backbone as
training would load it, so a file that does not fit stops here with the keys
and SRC named, and DST is not written. Then train with
``--cfg-options model.backbone.init_cfg.checkpoint=DST``.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmtlsi  # noqa: F401
from mmtlsi.models.backbone_weights import (
    OVERRIDE,
    backbone_state_dict,
    load_backbone_weights,
    read_checkpoint,
    to_mm_layout,
)
from mmtlsi.registry import MODELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a backbone checkpoint to the mm layout')
    parser.add_argument('src', help='checkpoint file or URL')
    parser.add_argument('dst', help='output file')
    parser.add_argument(
        '--config',
        help='check that the result fills this config\'s backbone')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    backbone = None
    if args.config:
        cfg = Config.fromfile(args.config)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        backbone_cfg = cfg.model.backbone.copy()
        backbone_cfg.pop('init_cfg', None)
        backbone = MODELS.build(backbone_cfg)
    report = None
    if backbone is not None:
        # the check reads SRC as training would (same unwrapping and
        # conversion), so a file that does not fit is named in the error and
        # nothing is written
        report = load_backbone_weights(backbone, args.src)
    state = backbone_state_dict(read_checkpoint(args.src))
    state, layout = to_mm_layout(state, backbone)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save(state, args.dst)
    print(f'{args.src} ({layout} layout) -> {args.dst}: '
          f'{len(state)} tensors')
    if report is not None:
        print(f'{len(report["loaded"])} tensors of the {args.config} '
              f'backbone filled from it; not in the file (allowed): '
              f'{", ".join(report["absent"]) or "none"}')
    print(f'use it with: --cfg-options {OVERRIDE}={args.dst}')


if __name__ == '__main__':
    main()
