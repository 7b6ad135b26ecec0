"""PreemptionHook: a signal one rank gets stops every rank after the same
iteration; handlers are restored after the run."""
import os
import signal
import socket

import torch.distributed as dist
import torch.multiprocessing as mp

from mmtlsi.engine import PreemptionHook


def _agree(rank, port, results):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    hook = PreemptionHook()
    before = hook.stop_requested()          # iteration 1: nobody signalled
    if rank == 1:
        os.kill(os.getpid(), signal.SIGUSR1)
    dist.barrier()
    after = hook.stop_requested()           # iteration 2: rank 1 was
    results[rank] = (before, after, list(hook.received))
    dist.destroy_process_group()


def test_a_signal_on_one_rank_stops_every_rank():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(_agree, args=(port, results), nprocs=2)
    usr1 = int(signal.SIGUSR1)
    assert results[0] == (0, usr1, [])       # rank 0 got nothing itself
    assert results[1] == (0, usr1, [usr1])


def test_handlers_note_signals_and_are_restored():
    previous = signal.getsignal(signal.SIGTERM)
    hook = PreemptionHook()
    os.kill(os.getpid(), signal.SIGTERM)     # noted, not fatal
    os.kill(os.getpid(), signal.SIGTERM)
    assert hook.received == [signal.SIGTERM] * 2
    assert hook.stop_requested() == signal.SIGTERM
    hook.after_run(runner=None)
    assert signal.getsignal(signal.SIGTERM) is previous
