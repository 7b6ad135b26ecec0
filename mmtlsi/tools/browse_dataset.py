"""Write one picture per training sample: the image (after the train
pipeline) and every task's ground truth.

    python -m mmtlsi.tools.browse_dataset CONFIG --output-dir DIR \
        [--not-show] [--max-samples N] [--split train|val]
"""
import argparse
import os
import os.path as osp

import cv2
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmtlsi  # noqa: F401
from mmtlsi.apis.run_config import add_cfg_options_argument, merge_cfg_options
from mmtlsi.visualization import MultiTaskVisualizer


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Browse a multi-task dataset')
    p.add_argument('config')
    p.add_argument('--output-dir', required=True)
    p.add_argument('--not-show', action='store_true',
                   help='only write the pictures')
    p.add_argument('--max-samples', type=int, default=20)
    p.add_argument('--split', choices=['train', 'val', 'test'],
                   default='train', help='which dataloader to browse')
    p.add_argument('--scale', type=int, default=0,
                   help='upscale factor (default: 2 for images < 256 px)')
    add_cfg_options_argument(p)
    return p.parse_args(argv)


def _upscale(sample, scale):
    """Nearest-neighbour upscaled copy of every ground-truth map."""
    import torch.nn.functional as F
    from mmengine.structures import PixelData

    from mmtlsi.tasks import TASK_SPECS
    sample = sample.clone()
    for spec in TASK_SPECS.values():
        if spec.gt_field in sample:
            data = sample.get(spec.gt_field).data[None].float()
            data = F.interpolate(data, scale_factor=scale, mode='nearest')
            sample.set_field(PixelData(data=data[0].to(
                sample.get(spec.gt_field).data.dtype)), spec.gt_field)
    return sample


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader']['dataset'])
    os.makedirs(args.output_dir, exist_ok=True)
    visualizer = MultiTaskVisualizer(name='browse_dataset')
    visualizer.dataset_meta = dataset.metainfo
    n = min(args.max_samples, len(dataset))
    for i in range(n):
        item = dataset[i]
        sample = item['data_samples']
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # RGB
        h = image.shape[0]
        scale = args.scale or (2 if h < 256 else 1)
        if scale > 1:
            image = cv2.resize(image, None, fx=scale, fy=scale,
                               interpolation=cv2.INTER_NEAREST)
            sample = _upscale(sample, scale)
        pic = visualizer.draw_multitask(image, sample, draw_pred=False)
        name = sample.metainfo.get('img_id') or osp.splitext(
            osp.basename(sample.img_path))[0]
        out = osp.join(args.output_dir, f'{i:05d}_{name}.png')
        cv2.imwrite(out, pic[..., ::-1])
        if not args.not_show:
            import matplotlib.pyplot as plt
            plt.figure(figsize=(pic.shape[1] / 100, pic.shape[0] / 100))
            plt.imshow(pic)
            plt.axis('off')
            plt.title(name)
            plt.show()
    print(f'wrote {n} pictures to {args.output_dir}')


if __name__ == '__main__':
    main()
