"""CurveBuffer stays bounded and keeps the curve's shape; Throttle coalesces redraws."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.widgets.curve_buffer import CurveBuffer, Throttle


def test_ten_million_points_stay_bounded_and_keep_the_ends():
    buf = CurveBuffer(capacity=4000)
    rng = np.random.default_rng(0)
    n, chunk = 10_000_000, 250_000
    spike_at = 7_654_321
    for start in range(0, n, chunk):
        x = np.arange(start, start + chunk, dtype=np.float64)
        y = np.exp(-x / 3e6) + 0.01 * rng.standard_normal(chunk)
        if start <= spike_at < start + chunk:
            y[spike_at - start] = 50.0  # one divergence spike must survive decimation
        buf.extend(x, y)
    x, y = buf.data()
    assert len(buf) == n
    assert x.size <= buf.capacity + 4
    assert x[0] == 0.0 and x[-1] == n - 1  # first and last point kept
    assert np.all(np.diff(x) > 0)
    assert y.max() == 50.0 and x[np.argmax(y)] == spike_at
    # the shape: the decimated curve follows the true trend everywhere
    trend = np.exp(-x / 3e6)
    inside = y != 50.0
    assert np.abs(y[inside] - trend[inside]).max() < 0.08
    # memory is the preallocated store, whatever the run length
    assert buf._bx.size == buf.capacity


def test_append_one_by_one_matches_extend():
    a, b = CurveBuffer(64), CurveBuffer(64)
    ys = np.sin(np.arange(5000) / 50.0)
    for i, v in enumerate(ys):
        a.append(i, v)
    b.extend(np.arange(5000), ys)
    xa, ya = a.data()
    xb, yb = b.data()
    assert xa.size <= 68 and xb.size <= 68
    assert xa[0] == xb[0] == 0 and xa[-1] == xb[-1] == 4999
    assert ya.max() == pytest.approx(1.0, abs=1e-3) and ya.min() == pytest.approx(-1.0, abs=1e-3)


def test_a_slow_curve_appended_one_by_one_shows_every_sample():
    buf = CurveBuffer(4000)
    ys = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 0.5, 0.7, 0.6]  # e.g. one loss per epoch
    for i, v in enumerate(ys):
        buf.append(i, v)
        x, y = buf.data()  # drawn after every sample, as a live plot does
        assert list(y) == ys[: i + 1] and list(x) == list(range(i + 1))


def test_short_curves_are_exact_and_nan_survives():
    buf = CurveBuffer(100)
    buf.extend([0, 1, 2, 3], [1.0, np.nan, 3.0, np.inf])
    x, y = buf.data()
    assert list(x) == [0, 1, 2, 3]
    assert np.isnan(y[1]) and y[3] == np.inf
    v = buf.version
    buf.append(4, 0.5)
    assert buf.version > v
    buf.clear()
    assert len(buf) == 0 and buf.data()[0].size == 0


def test_throttle_coalesces_requests(qtbot):
    calls = []
    th = Throttle(lambda: calls.append(1), hz=30)
    for _ in range(1000):
        th.request()
    qtbot.waitUntil(lambda: len(calls) == 1)
    qtbot.wait(80)
    assert len(calls) == 1  # one redraw for a burst, none while nothing changed
    th.request()
    qtbot.waitUntil(lambda: len(calls) == 2)
    th.stop()
    th.request()
    qtbot.wait(60)
    assert len(calls) == 2


def test_throttle_request_from_a_worker_thread(qtbot):
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    threads = []
    th = Throttle(lambda: threads.append(QThread.currentThread()), hz=60)
    worker = threading.Thread(target=lambda: [th.request() for _ in range(10_000)])
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(threads) >= 1)
    assert all(t is QApplication.instance().thread() for t in threads)
    assert th.redraws <= 3


def test_capacity_validation():
    with pytest.raises(ValueError):
        CurveBuffer(4)
    with pytest.raises(ValueError):
        CurveBuffer(100).extend([1, 2], [1])
