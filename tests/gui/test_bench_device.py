"""`gdsim bench --device cuda`: refused in one line without a GPU; with one, its training rows
read wall time (between device syncs) and report host <-> device copies per step."""

from __future__ import annotations

import app.bench.cli as bench
import core.bench.training as training_bench
from app.main import main


def test_bench_on_cuda_without_a_gpu_names_the_device_and_exits_nonzero(capsys):
    assert main(["bench", "--quick", "--device", "cuda", "--only", "grid"]) != 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "'cuda'" in captured.err
    assert "figure" not in captured.out  # nothing was measured


def _fake_compare(batch_size, epochs, trials, threads_demo=False, device="cpu", only=None):
    s = {"median": 1.0, "min": 1.0, "max": 1.0, "q1": 1.0, "q3": 1.0, "trials": 1}
    gpu = device != "cpu"
    speed = {"steps_per_s": {**s, "median": 500.0}, "steps_per_cpu_s": {**s, "median": 900.0}}
    ratio = {"wall": {**s, "median": 0.95}, "cpu": {**s, "median": 0.5}}
    return {
        "batch_size": batch_size,
        "device": device,
        "clock": "wall" if gpu else "cpu",
        "transfers": {"to_device_per_step": 2.0, "to_host_per_step": 0.25} if gpu else None,
        "variants": {name: speed for name in ("engine", "bare", "fused_limit")},
        "ratios": {"bare": ratio, "fused_limit": ratio},
    }


def test_gpu_training_rows_read_wall_time_and_count_transfers(monkeypatch):
    monkeypatch.setattr(training_bench, "compare", _fake_compare)
    rows, _ = bench.training_rows({"device": "cuda:0", "epochs_scale": 1.0, "training_pairs": 1})
    by_name = {r.figure: r for r in rows}
    cpu, gpu = by_name["training cpu batch 128"], by_name["training cuda:0 batch 128"]
    assert (cpu.unit, cpu.value, cpu.ratio, cpu.met) == ("steps/CPU-s", 900.0, 0.5, False)
    assert (gpu.unit, gpu.value, gpu.ratio, gpu.met) == ("steps/s", 500.0, 0.95, True)
    moved = by_name["training cuda:0 batch 128, transfers"]
    assert moved.value == 2.0 and "0.25 out/step" in moved.target
    assert "training cpu batch 128, transfers" not in by_name
