"""What the non-finite guard costs per training step.

Trains a model of a config (default: the demo config) on one fixed batch of
its training data, with mmengine's ``OptimWrapper`` and with the guarded
``NonFiniteGuardOptimWrapper``, alternating blocks of steps, and times every
step with the process's CPU time (one thread: the figure survives a loaded
machine). It also times the guard's own work alone (the loss check, the
gradient-norm check and the flag read) on the model's real gradients.
Prints JSON.

    python .dev_scripts/nonfinite_guard_cost.py --steps 20 --blocks 3
"""
import argparse
import json
import os.path as osp
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmtlsi.apis.builder import build_model

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CFG = osp.join(REPO, 'configs', 'demo', 'mtlsi_tiny_synthetic-nyud.py')


def timed_steps(model, wrapper, batch, steps):
    times = []
    for _ in range(steps):
        start = time.process_time()
        model.train_step(batch, optim_wrapper=wrapper)
        times.append(time.process_time() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default=DEMO_CFG)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--blocks', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    cfg = Config.fromfile(args.config)
    DefaultScope.get_instance('guard-cost', scope_name='mmseg')
    model = build_model(cfg)
    model.train()
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    if args.batch_size:
        loader_cfg.batch_size = args.batch_size
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=0)))

    wrapper_cfg = cfg.optim_wrapper.to_dict()
    plain_cfg = {k: v for k, v in wrapper_cfg.items()
                 if k not in ('constructor', 'max_nonfinite_skips')}
    guarded_cfg = dict(wrapper_cfg, constructor='NonFiniteGuardConstructor')
    wrappers = dict(plain=build_optim_wrapper(model, plain_cfg),
                    guarded=build_optim_wrapper(model, guarded_cfg))
    assert type(wrappers['guarded']).__name__ == 'NonFiniteGuardOptimWrapper'
    for wrapper in wrappers.values():
        timed_steps(model, wrapper, batch, 2)           # warm-up
    times = {name: [] for name in wrappers}
    for _ in range(args.blocks):
        for name, wrapper in wrappers.items():
            times[name] += timed_steps(model, wrapper, batch, args.steps)

    # the guard's own work on real gradients, timed alone
    guard = wrappers['guarded']
    losses = model._run_forward(model.data_preprocessor(batch, True),
                                mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()
    repeats = 200
    start = time.process_time()
    for _ in range(repeats):
        ok = torch.isfinite(loss.detach()).all() & guard._grads_finite()
        int((~ok).to(torch.int64).item())
    guard_ms = (time.process_time() - start) / repeats * 1e3

    def median(values):
        return sorted(values)[len(values) // 2] * 1e3

    plain, guarded = median(times['plain']), median(times['guarded'])
    print(json.dumps(dict(
        config=osp.relpath(args.config, REPO),
        batch_size=loader_cfg.batch_size, steps=len(times['plain']),
        timer='process CPU time, 1 thread',
        step_ms_plain=round(plain, 2), step_ms_guarded=round(guarded, 2),
        guard_ms_alone=round(guard_ms, 3),
        guard_share_of_step_percent=round(100 * guard_ms / plain, 3),
        difference_percent=round(100 * (guarded - plain) / plain, 2)),
        indent=1))


if __name__ == '__main__':
    main()
