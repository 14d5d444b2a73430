"""Memory while the Training view trains for a long time: the resident set size over
``epochs`` epochs after a warm-up, per epoch (``gdsim bench``, section "memory").

A small data set (64 points, one batch per epoch) so that 10,000 epochs take seconds; the
window draws as it does for a lecture (live plots, legend, status). Growth that stays per epoch
(a record kept for every epoch, a plot that keeps every point) shows in every tenth of the run;
the capped histories and plot buffers reach their size during the warm-up. The figure is the
median of the ten tenths' growth: one step of the allocator (an arena of a few hundred KB,
once) moves the end-to-end difference by ~40 B an epoch but only one tenth.
"""

from __future__ import annotations

import statistics
import time
from itertools import pairwise
from typing import Any

from app.bench.training_view import _app, _close, _pump, _wait, _window
from core.bench.soak import rss_mb

# below what keeping the smallest thing per epoch costs (a float in a list: 24 + 8 B); the
# allocator's noise here is 6-16 B per epoch over 10,000 epochs; a kept record was ~470 B
TARGET_BYTES_PER_EPOCH = 32.0
PARTS = 10


def memory_per_epoch(epochs: int = 10_000, warmup_epochs: int = 2_000) -> dict[str, Any]:
    """RSS (MiB) at the end of the warm-up and ``epochs`` later, and bytes per epoch between:
    the median of :data:`PARTS` parts' growth (``bytes_per_epoch``) and end to end."""
    _app()
    win, view = _window()
    try:
        c = view.controls
        c.data.samples_spin.setValue(80)  # 64 to train on, one batch of 64 per epoch
        c.run.batch_spin.setValue(64)
        c.run.epochs_spin.setValue(warmup_epochs + epochs + 1_000)
        c.push()
        view.reset_run()
        _wait(lambda: view.controller.engine is not None and not view.model.awaiting_reset, 30)
        view.toggle_run()
        lane = view.controller.engine.lanes[0]
        _wait(lambda: lane.epoch >= warmup_epochs, 600)
        _pump(0.5)
        samples = [(lane.epoch, rss_mb())]
        t0 = time.perf_counter()
        for k in range(1, PARTS + 1):
            _wait(lambda k=k: lane.epoch >= samples[0][0] + max(1, k * epochs // PARTS), 1200)
            samples.append((lane.epoch, rss_mb()))
        wall = time.perf_counter() - t0
        view.toggle_run()
    finally:
        _close(win)
    (e0, before), (e1, after) = samples[0], samples[-1]
    parts = [(r1 - r0) * 2**20 / (f1 - f0) for (f0, r0), (f1, r1) in pairwise(samples) if f1 > f0]
    return {
        "rss_before_mib": before,
        "rss_after_mib": after,
        "epochs": e1 - e0,
        "bytes_per_epoch": statistics.median(parts),
        "end_to_end_bytes_per_epoch": (after - before) * 2**20 / (e1 - e0),
        "parts_bytes_per_epoch": parts,
        "epochs_per_s": (e1 - e0) / wall,
    }


if __name__ == "__main__":
    print(memory_per_epoch())
