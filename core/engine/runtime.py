"""Process-wide torch settings for gdsim's own entry points (the CLI and the window).

Why one thread: gdsim's tensors are tiny (a 2-element parameter, an MLP on a few hundred points, a
500x500 grid). On a 2-core machine torch's intra-op pool gains nothing on them, and when the other
core is busy (the GUI thread, another process) ops that go parallel from ~2k elements stall waiting
for the second thread: measured here, a 20k-element sqrt went from 20 us to 8 ms at p90, and a
10,000-point swarm from 2,300 to 220 steps/s. A notebook importing ``core`` keeps torch's default;
only ``gdsim`` and ``python -m app`` call :func:`configure_torch`.

``GDSIM_TORCH_THREADS=N`` overrides (e.g. for a large batch on a many-core machine).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEFAULT_THREADS = 1


def configure_torch(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (env GDSIM_TORCH_THREADS wins); returns what was set."""
    import torch

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
