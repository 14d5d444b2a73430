"""Bounded live-curve storage (``CurveBuffer``) and a redraw throttle (``Throttle``).

The buffer keeps, per bucket of ``stride`` samples, the smallest and the largest y (merging
buckets and doubling the stride when full): O(capacity) memory for hours of training, and the
spikes that make a loss curve worth reading survive. The throttle redraws at most ``hz`` times a
second, and not at all while nothing changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot


class CurveBuffer:
    """Min/max-decimating buffer of (x, y) samples with bounded memory.

    ``append``/``extend`` add samples (x should increase); ``data()`` returns at most
    ``capacity + 4`` points as ``(x, y)`` float64 arrays for ``PlotDataItem.setData`` (nan y values are kept, so ``connect='finite'`` shows
    gaps). ``version`` increases on every change, to redraw only when needed.
    """

    def __init__(self, capacity: int = 4000) -> None:
        if capacity < 8:
            raise ValueError("capacity must be at least 8 points")
        self.capacity = int(capacity)
        self._max_buckets = self.capacity // 2
        # each bucket holds two samples (min and max, ordered by sample index)
        self._bx = np.empty((self._max_buckets, 2))
        self._by = np.empty((self._max_buckets, 2))
        self._bi = np.empty((self._max_buckets, 2), dtype=np.int64)
        self.clear()

    def clear(self) -> None:
        self._nb = 0
        self._stride = 1
        self._count = 0  # samples seen so far
        self._pend_x: list[float] = []
        self._pend_y: list[float] = []
        self._first: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None
        self.version = getattr(self, "version", 0) + 1

    def __len__(self) -> int:
        """Number of samples seen (not stored)."""
        return self._count

    @property
    def stride(self) -> int:
        """Samples per stored bucket: 1 until the buffer first fills up."""
        return self._stride

    @property
    def last(self) -> tuple[float, float] | None:
        return self._last

    def append(self, x: float, y: float) -> None:
        """Add one sample (cheap: buckets are reduced in batches)."""
        if self._first is None:
            self._first = (float(x), float(y))
        self._last = (float(x), float(y))
        self._pend_x.append(x)
        self._pend_y.append(y)
        self._count += 1
        self.version += 1
        if len(self._pend_x) >= max(self._stride, 64):
            self._flush_pending()

    def extend(self, xs: np.ndarray | list, ys: np.ndarray | list) -> None:
        """Add many samples at once (vectorised; 10 M points take well under a second)."""
        xs = np.asarray(xs, dtype=np.float64).ravel()
        ys = np.asarray(ys, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError(f"xs and ys differ in length ({xs.size} vs {ys.size})")
        if xs.size == 0:
            return
        if self._first is None:
            self._first = (float(xs[0]), float(ys[0]))
        self._last = (float(xs[-1]), float(ys[-1]))
        if self._pend_x:
            xs = np.concatenate([np.asarray(self._pend_x, dtype=np.float64), xs])
            ys = np.concatenate([np.asarray(self._pend_y, dtype=np.float64), ys])
            start = self._count - len(self._pend_x)
            self._pend_x, self._pend_y = [], []
        else:
            start = self._count
        self._count = start + xs.size
        self.version += 1
        self._ingest(xs, ys, start)

    def _flush_pending(self) -> None:
        xs = np.asarray(self._pend_x, dtype=np.float64)
        ys = np.asarray(self._pend_y, dtype=np.float64)
        start = self._count - xs.size
        self._pend_x, self._pend_y = [], []
        self._ingest(xs, ys, start)

    def _ingest(self, xs: np.ndarray, ys: np.ndarray, start: int) -> None:
        """Reduce whole buckets of raw samples into the store; keep the remainder pending."""
        # grow the stride first, so the new buckets fit without ever holding them all
        while self._nb + xs.size // self._stride > self._max_buckets:
            self._merge()
        nfull = (xs.size // self._stride) * self._stride
        if nfull:
            bx, by, bi = _reduce(
                xs[:nfull].reshape(-1, self._stride),
                ys[:nfull].reshape(-1, self._stride),
                start + np.arange(nfull, dtype=np.int64).reshape(-1, self._stride),
            )
            n = bx.shape[0]
            self._bx[self._nb : self._nb + n] = bx
            self._by[self._nb : self._nb + n] = by
            self._bi[self._nb : self._nb + n] = bi
            self._nb += n
        if nfull < xs.size:
            self._pend_x = xs[nfull:].tolist()
            self._pend_y = ys[nfull:].tolist()

    def _merge(self) -> None:
        """Halve the stored buckets (pairs -> one min/max bucket) and double the stride."""
        self._stride *= 2
        pairs = self._nb // 2
        if pairs:
            sl = slice(0, 2 * pairs)
            bx, by, bi = _reduce(
                self._bx[sl].reshape(pairs, 4),
                self._by[sl].reshape(pairs, 4),
                self._bi[sl].reshape(pairs, 4),
            )
            odd = self._nb % 2
            if odd:  # the unpaired last bucket moves down, unchanged
                last = (self._bx[self._nb - 1].copy(), self._by[self._nb - 1].copy(),
                        self._bi[self._nb - 1].copy())  # fmt: skip
            self._bx[:pairs], self._by[:pairs], self._bi[:pairs] = bx, by, bi
            if odd:
                self._bx[pairs], self._by[pairs], self._bi[pairs] = last
            self._nb = pairs + odd

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` to plot: first sample, the min/max envelope, pending samples, last sample."""
        if len(self._pend_x) >= self._stride:
            # store the whole buckets ``append`` batched up: shown as one min/max pair, up to 63
            # samples of a slow curve (one per epoch) would hide behind their extremes
            self._flush_pending()
        bi = self._bi[: self._nb].ravel()
        keep = np.ones(bi.size, dtype=bool)
        keep[1:] = bi[1:] != bi[:-1]  # a bucket of one sample stores it twice
        parts_x = [self._bx[: self._nb].ravel()[keep]]
        parts_y = [self._by[: self._nb].ravel()[keep]]
        if self._pend_x:  # a partial bucket: its min and max, like the stored ones
            px = np.asarray(self._pend_x, dtype=np.float64)
            py = np.asarray(self._pend_y, dtype=np.float64)
            if px.size > 2:
                rx, ry, _ = _reduce(px[None, :], py[None, :], np.arange(px.size)[None, :])
                px, py = (rx[0], ry[0]) if rx[0, 0] != rx[0, 1] else (rx[0, :1], ry[0, :1])
            parts_x.append(px)
            parts_y.append(py)
        x = np.concatenate(parts_x)
        y = np.concatenate(parts_y)
        if self._first is not None and (x.size == 0 or x[0] != self._first[0]):
            x = np.concatenate([[self._first[0]], x])
            y = np.concatenate([[self._first[1]], y])
        if self._last is not None and (x[-1] != self._last[0]):
            x = np.concatenate([x, [self._last[0]]])
            y = np.concatenate([y, [self._last[1]]])
        return x, y


def _reduce(
    x: np.ndarray, y: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the samples with min and max y, ordered by sample index (nan-safe)."""
    rows = np.arange(x.shape[0])
    nan = np.isnan(y)
    lo = np.argmin(np.where(nan, np.inf, y), axis=1)
    hi = np.argmax(np.where(nan, -np.inf, y), axis=1)
    a = np.minimum(lo, hi)
    b = np.maximum(lo, hi)
    pick = np.stack([a, b], axis=1)
    return (
        x[rows[:, None], pick],
        y[rows[:, None], pick],
        idx[rows[:, None], pick],
    )


class Throttle(QObject):
    """Coalesce redraw requests into at most ``hz`` calls of ``redraw`` per second.

    ``request()`` may be called from any thread and as often as you like; from a worker thread
    it costs at most one queued event per frame. The first request after a quiet period is
    served at once (the plot feels immediate); later ones wait for the frame interval. Create
    it on the GUI thread; ``redraw`` runs there.
    """

    _schedule = Signal()

    def __init__(
        self, redraw: Callable[[], None], hz: float = 30.0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._redraw = redraw
        self._interval = 1.0 / hz
        self._lock = threading.Lock()
        self._dirty = False
        self._scheduled = False
        self._stopped = False
        self._last = -1e9
        self.redraws = 0  # how many times redraw ran (tests and benchmarks read it)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._fire)
        self._schedule.connect(self._start_timer)  # queued when emitted off the GUI thread

    def request(self) -> None:
        """Note that something changed; a redraw will follow within one frame."""
        with self._lock:
            if self._stopped:
                return
            self._dirty = True
            if self._scheduled:
                return
            self._scheduled = True
        self._schedule.emit()

    def flush(self) -> None:
        """Redraw now if anything is pending (GUI thread), e.g. before a screenshot."""
        if self._dirty:
            self._timer.stop()
            self._fire()

    def stop(self) -> None:
        """No more redraws (call from ``shutdown()``); ``start()`` re-enables."""
        with self._lock:
            self._stopped = True
            self._dirty = self._scheduled = False
        self._timer.stop()

    def start(self) -> None:
        with self._lock:
            self._stopped = False

    @Slot()
    def _start_timer(self) -> None:
        if self._stopped or self._timer.isActive():
            return
        wait = self._interval - (time.perf_counter() - self._last)
        self._timer.start(max(0, int(wait * 1000)))

    @Slot()
    def _fire(self) -> None:
        with self._lock:
            if not self._dirty or self._stopped:
                self._scheduled = False
                return
            self._dirty = False
            self._scheduled = False
        self._last = time.perf_counter()
        self.redraws += 1
        self._redraw()
