"""How much a trained model's predictions use the cross-task fusion.

    python .dev_scripts/probe_fusion.py CONFIG CHECKPOINT
        [--batches 8] [--batch-size 8] [--seed 0]

On training crops of the config's own pipeline (fixed seed, model in eval
mode), the task losses of the final predictions are computed twice: as the
model runs, and with every image given the fused tokens of another image of
its batch (the fusion's output rolled by one along the batch). Tokens with
the right statistics but the wrong content: when the losses hardly move, the
predictions do not depend on what the fusion carries. The losses of the same
model's coarse predictions (the preliminary decoders') are printed beside
them: the refinement's gain inside one model.
"""
from __future__ import annotations

import argparse

import torch

from mmtlsi.apis.analysis import build_model_for_analysis


def task_losses(model, data, suffix: str = '') -> dict:
    """{task: loss} of the final predictions (``suffix`` '') or of the coarse
    ones (``'_coarse'``), each divided by the task's loss weight."""
    losses = model(**data, mode='loss')
    specs = model.decode_head.task_specs
    weight = model.decode_head.coarse_loss_weight if suffix else 1.0
    return {t: float(losses[f'loss_{t}{suffix}']) / s.loss_weight / weight
            for t, s in specs.items()}


@torch.no_grad()
def probe(model, batches) -> dict:
    """Mean losses over ``batches`` (preprocessed data dicts): of the final
    predictions as the model runs ('own') and with the fusion's output rolled
    by one along the batch ('rolled'), and of the coarse predictions of the
    preliminary decoders ('coarse')."""
    fusion = model.decode_head.fusion
    sums = {'own': {}, 'rolled': {}, 'coarse': {}}
    for data in batches:
        for key in sums:
            handle = fusion.register_forward_hook(
                lambda m, i, out: out.roll(1, dims=0)) \
                if key == 'rolled' else None
            suffix = '_coarse' if key == 'coarse' else ''
            try:
                for t, v in task_losses(model, data, suffix).items():
                    sums[key][t] = sums[key].get(t, 0.0) + v
            finally:
                if handle is not None:
                    handle.remove()
    n = len(batches)
    return {key: {t: v / n for t, v in d.items()} for key, d in sums.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--batches', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    from mmengine.runner import Runner, set_random_seed
    model = build_model_for_analysis(args.config, args.checkpoint)
    cfg = model.cfg
    if getattr(model.decode_head, 'fusion', None) is None:
        raise SystemExit(f'{args.config}: the model has no fusion')
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(batch_size=args.batch_size, num_workers=0,
                      persistent_workers=False)
    set_random_seed(args.seed)          # the pipeline's crops and flips
    loader = iter(Runner.build_dataloader(loader_cfg, seed=args.seed))
    batches = [model.data_preprocessor(next(loader), True)
               for _ in range(args.batches)]
    result = probe(model, batches)
    print(f'{"task":10s} {"final":>9s} {"rolled":>9s} {"change":>8s} '
          f'{"coarse":>9s} {"final vs coarse":>16s}')
    for t, own in result['own'].items():
        rolled, coarse = result['rolled'][t], result['coarse'][t]
        print(f'{t:10s} {own:9.4f} {rolled:9.4f} '
              f'{100 * (rolled - own) / own:+7.1f}% {coarse:9.4f} '
              f'{100 * (own - coarse) / coarse:+15.1f}%')
    return result


if __name__ == '__main__':
    main()
