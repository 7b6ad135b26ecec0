"""retain_freed_memory: a large tensor freed and allocated again is served
from memory the process kept (no page faults), and the resident-set meter
still sees a computation's whole working memory. Each case runs in a
process of its own: malloc's settings are the process's."""
import os
import platform
import subprocess
import sys

import pytest

from mmtlsi.utils.allocator import MALLOC_ENV, retain_freed_memory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith('linux') or
    platform.libc_ver()[0] != 'glibc', reason='glibc malloc only')

# 64 MiB tensors: above glibc's largest adaptive mmap threshold (32 MiB),
# so by default each one is a mapping of its own, unmapped when freed
REUSE = """
import resource, torch
from mmtlsi.utils.allocator import retain_freed_memory
print(retain_freed_memory())

def rss_mib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

faults, given_back = [], []
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.ones(16 * 2**20)
    held = rss_mib()
    del x
    given_back.append(round(held - rss_mib()))
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                  - before)
print(*faults)
print(*given_back)
"""


def _run(script, mode):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop(MALLOC_ENV, None)
    if mode is not None:
        env[MALLOC_ENV] = mode
    result = subprocess.run([sys.executable, '-c', script], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


def test_a_freed_tensor_stays_and_comes_back_without_page_faults():
    mode, faults, given_back = _run(REUSE, None)
    assert mode.startswith('retain: ')
    # nothing goes back to the kernel, and once the heap has grown (a few
    # rounds) the tensor is served from it: no page is faulted in again
    assert all(int(n) < 4 for n in given_back.split()), given_back
    assert max(int(n) for n in faults.split()[4:]) < 100, faults


def test_system_mode_keeps_the_c_library_defaults():
    mode, faults, given_back = _run(REUSE, 'system')
    assert mode.startswith('system: ')
    # every freed tensor's 64 MiB go back to the kernel
    assert all(int(n) >= 60 for n in given_back.split()), given_back


METER = """
import torch
from mmtlsi.utils.allocator import retain_freed_memory
from mmtlsi.utils.benchmark import CpuPeakMemory
retain_freed_memory()
x = torch.ones(64 * 2**20)       # 256 MiB, freed: kept by the process
del x
with CpuPeakMemory() as mem:
    y = torch.ones(32 * 2**20)   # 128 MiB of working memory
    del y
print(round(mem.peak_mib))
"""


def test_the_memory_meter_sees_working_memory_in_kept_memory():
    growth = int(_run(METER, None)[0])
    assert 120 <= growth <= 200, growth


def test_an_unknown_mode_is_an_error_that_names_the_variable():
    with pytest.raises(ValueError, match='MMTLSI_MALLOC=.mine.'):
        retain_freed_memory({MALLOC_ENV: 'mine'})


def test_the_tools_stop_on_an_unknown_mode(tmp_path):
    env = dict(os.environ, **{MALLOC_ENV: 'jemalloc'})
    result = subprocess.run(
        [sys.executable, '-m', 'mmtlsi.tools.train', 'missing.py'],
        env=env, capture_output=True, text=True, timeout=120,
        cwd=str(tmp_path))
    assert result.returncode == 1
    assert "error: MMTLSI_MALLOC='jemalloc'" in result.stderr
