"""Process-wide torch settings for gdsim's own entry points (the CLI and the window).

Why one thread: gdsim's tensors are tiny (a 2-element parameter, an MLP on a few hundred points, a
500x500 grid). On a 2-core machine torch's intra-op pool gains nothing on them, and when the other
core is busy (the GUI thread, another process) ops that go parallel from ~2k elements stall waiting
for the second thread: measured here, a 20k-element sqrt went from 20 us to 8 ms at p90, and a
10,000-point swarm from 2,300 to 220 steps/s. A notebook importing ``core`` keeps torch's default;
only ``gdsim`` and ``python -m app`` call :func:`configure_torch`.

``GDSIM_TORCH_THREADS=N`` overrides (e.g. for a large batch on a many-core machine).

Why tune glibc's malloc: torch's CPU tensors come from malloc. By default glibc hands freed memory
at the top of its heap back to the kernel once more than ~2x the largest recent block is free there,
so a loop whose temporaries are a few hundred KB (a 40,000-point swarm) can get fresh pages, and a
page fault for each 4 KB of them, every step: measured here, 15,000-45,000 faults and 60-120 ms of
kernel time in a 220-step basins map of ~300 ms. With the heap kept (up to :data:`HEAP_KEEP`) the
same map faults a few hundred times at most. Left alone off glibc, or when the user set
``MALLOC_*``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEFAULT_THREADS = 1
#: Blocks below this come from the heap, not a fresh mmap (the most glibc allows is 32 MiB).
HEAP_BLOCK = 16 << 20
#: Free memory at the top of the heap kept for reuse rather than returned to the kernel.
HEAP_KEEP = 64 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def keep_heap() -> bool:
    """Have glibc's malloc keep freed tensor memory for reuse (see the module docstring).
    True if set; False off glibc or when ``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_``
    are in the environment (the user's choice stands)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    if {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"} & os.environ.keys():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCK) and mallopt(_M_TRIM_THRESHOLD, HEAP_KEEP))


def configure_torch(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (env GDSIM_TORCH_THREADS wins) and keep the heap
    (:func:`keep_heap`); returns the thread count set."""
    import torch

    keep_heap()

    env = os.environ.get("GDSIM_TORCH_THREADS", "").strip()
    if threads is None:
        threads = int(env) if env.isdigit() and int(env) > 0 else DEFAULT_THREADS
    torch.set_num_threads(threads)
    return threads


@contextlib.contextmanager
def torch_threads(n: int | None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Use ``n`` intra-op threads in the calling thread while inside, then restore the previous count.

    Why per block: with torch's OpenMP backend the count is per calling thread, and gdsim's small
    ops run 10-20x slower from a worker thread with the default two (see
    ``TrainConfig.threads_for_cpu``). ``n`` None, or a device other than the CPU, changes nothing.
    """
    import torch

    previous = torch.get_num_threads()
    if n is None or n == previous or torch.device(device).type != "cpu":
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
