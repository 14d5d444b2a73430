"""The bench's GPU path without a GPU: timings wait for the device at both ends (``device_sync``,
a no-op on the CPU) and host <-> device copies are counted at the dispatcher."""

from __future__ import annotations

import torch

import core.bench.training as training_bench
from core.bench.transfers import TransferCount, count_transfers
from core.engine import devices
from core.engine.devices import device_sync


def test_device_sync_waits_for_cuda_and_not_for_the_cpu(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    device_sync("cpu")
    device_sync(torch.device("cpu"))
    assert calls == []
    device_sync("cuda:1")
    assert calls == [torch.device("cuda", 1)]


def test_every_timing_starts_and_ends_with_the_device_idle(monkeypatch):
    seen = []
    monkeypatch.setattr(training_bench, "device_sync", lambda device: seen.append(("sync", device)))

    def work() -> int:
        seen.append("work")
        return 7

    steps, wall, cpu = training_bench._timed(work, "cuda")
    assert steps == 7 and wall >= 0 and cpu >= 0
    assert seen == [("sync", "cuda"), "work", ("sync", "cuda")]


def test_a_cpu_timing_goes_through_the_real_sync_as_a_no_op(monkeypatch):
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: 1 / 0)  # must not run
    assert training_bench._timed(lambda: 3, "cpu")[0] == 3
    assert devices._SYNC.get("cpu") is None


def test_copies_to_a_device_are_counted():
    _, count = count_transfers(lambda: torch.ones(3).to("meta"))
    assert count == TransferCount(to_device=1, to_host=0)
    _, count = count_transfers(lambda: torch.empty(2, device="meta").copy_(torch.ones(2)))
    assert count == TransferCount(to_device=1, to_host=0)
    _, count = count_transfers(lambda: torch.ones(3).clone().sum().item())  # host only
    assert count == TransferCount()


def test_directions_of_a_copy():
    count = TransferCount()
    cpu, cuda0, cuda1 = torch.device("cpu"), torch.device("cuda", 0), torch.device("cuda", 1)
    count.add(cpu, cuda0)
    count.add(cuda0, cpu)
    count.add(cuda0, cpu)
    count.add(cuda0, cuda1)  # between devices: not over the host bus
    count.add(cpu, cpu)
    assert count == TransferCount(to_device=1, to_host=2)


def test_training_on_the_cpu_is_judged_by_cpu_time_and_moves_nothing():
    r = training_bench.compare(32, 1, 1, only=training_bench.TARGETED)
    assert r["clock"] == "cpu" and r["transfers"] is None and r["device"] == "cpu"
    assert training_bench.engine_transfers(training_bench._config(32, 1)) == {
        "to_device_per_step": 0.0,
        "to_host_per_step": 0.0,
    }
