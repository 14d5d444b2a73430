"""paired(): the figure is read from the clock asked for, with every clock's ratios beside it."""

from __future__ import annotations

import core.bench.stats as stats


def test_paired_reads_the_chosen_clock_and_reports_both(monkeypatch):
    now = {"wall": 0.0, "cpu": 0.0}
    for name in now:
        monkeypatch.setitem(stats.CLOCKS, name, lambda name=name: now[name])

    def gdsim():  # as long as the other on the wall, a third of its CPU time
        now["wall"] += 2.0
        now["cpu"] += 1.0

    def other():
        now["wall"] += 2.0
        now["cpu"] += 3.0

    cpu = stats.paired(gdsim, {"other": other}, 3, clock="cpu")
    assert cpu["clock"] == "cpu" and cpu["gdsim_ms"] == 1000.0
    assert cpu["other"]["ratio"] == 3.0 and cpu["other"]["ms"] == 3000.0
    assert cpu["other"]["by_clock"]["wall"]["ratio"] == 1.0
    wall = stats.paired(gdsim, {"other": other}, 3)  # wall time unless asked
    assert wall["clock"] == "wall" and wall["other"]["ratio"] == 1.0 and wall["gdsim_ms"] == 2000.0


def test_a_clock_that_did_not_move_is_left_out_not_divided_by(monkeypatch):
    now = {"wall": 0.0, "cpu": 0.0}
    for name in now:
        monkeypatch.setitem(stats.CLOCKS, name, lambda name=name: now[name])

    def waits():  # as a child process does the work: wall time passes, this thread's CPU not
        now["wall"] += 1.0

    out = stats.paired(waits, {"other": waits}, 2)
    assert out["other"]["ratio"] == 1.0 and set(out["other"]["by_clock"]) == {"wall"}
