"""Device listing and resolution, including CUDA and MPS simulated by monkeypatching."""

import pytest
import torch

from core.engine.devices import (
    DeviceInfo,
    available_devices,
    device_names,
    move_optimizer_state,
    resolve_device,
)
from core.engine.optimizers import fused_kwargs
from core.errors import GdsimError


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_cuda_gpus(monkeypatch):
    """Simulated: torch says two CUDA devices exist (nothing is ever allocated on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: f"Fake GPU {i}")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_cpu_always_listed_first_and_available(no_gpu):
    devices = available_devices()
    assert devices[0] == DeviceInfo("cpu", "CPU", True, "")
    by_name = {d.name: d for d in devices}
    assert not by_name["cuda"].available and by_name["cuda"].reason
    assert not by_name["mps"].available and "MPS" in by_name["mps"].reason
    assert device_names() == ["cpu"]


def test_resolve_on_a_cpu_only_machine(no_gpu):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("request_", ["cuda", "cuda:0", "mps"])
def test_absent_device_is_an_error_naming_what_is_available(no_gpu, request_):
    with pytest.raises(GdsimError) as info:
        resolve_device(request_)
    message = str(info.value)
    assert "\n" not in message
    assert f"'{request_}' is not available" in message and "available: cpu" in message


@pytest.mark.parametrize("request_", ["gpu", "cuda:x", "cpu:0", "mps:1", "", "cuda:-1"])
def test_malformed_request_is_an_error(no_gpu, request_):
    with pytest.raises(GdsimError, match="unknown device .*available here: cpu"):
        resolve_device(request_)


def test_simulated_cuda_is_listed_and_resolved(two_cuda_gpus):
    names = [d.name for d in available_devices() if d.available]
    assert names == ["cpu", "cuda", "cuda:0", "cuda:1"]
    assert "Fake GPU 1" in {d.name: d for d in available_devices()}["cuda:1"].description
    assert resolve_device("auto") == torch.device("cuda", 0)  # CUDA first
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("CUDA:1") == torch.device("cuda", 1)


def test_simulated_cuda_index_out_of_range(two_cuda_gpus):
    with pytest.raises(GdsimError) as info:
        resolve_device("cuda:2")
    message = str(info.value)
    assert "2 CUDA devices" in message and "cuda:0, cuda:1" in message and "\n" not in message


def test_simulated_mps_is_chosen_by_auto_when_no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    assert resolve_device("mps") == torch.device("mps")


def test_a_broken_cuda_driver_counts_as_no_cuda(monkeypatch):
    def broken():
        raise RuntimeError("CUDA driver initialization failed")

    monkeypatch.setattr(torch.cuda, "is_available", broken)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(GdsimError, match="not available"):
        resolve_device("cuda")


def _adam_with_state() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A small model whose Adam has taken three steps (so it has state to move)."""
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.ones(4, 3)).sum().backward()
        optimizer.step()
    return model, optimizer


def test_move_optimizer_state_keeps_every_value():
    model, optimizer = _adam_with_state()
    before = {
        i: {k: v.clone() for k, v in optimizer.state[p].items()}
        for i, p in enumerate(model.parameters())
    }
    model.to("cpu")
    move_optimizer_state(optimizer, torch.device("cpu"))
    for i, p in enumerate(model.parameters()):
        state = optimizer.state[p]
        assert set(state) == set(before[i])
        for key, value in before[i].items():
            assert torch.equal(state[key], value)
        assert state["exp_avg"].device == p.device
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_move_optimizer_state_really_moves_it():
    """cpu -> cpu proves nothing (a no-op passes): a dtype change and the ``meta`` device (no
    GPU needed) show the state really follows its parameters, and Adam's step counter stays a
    CPU float32 as torch keeps it."""
    model, optimizer = _adam_with_state()
    p = next(model.parameters())
    exp_avg = optimizer.state[p]["exp_avg"].clone()
    model.to(torch.float64)
    move_optimizer_state(optimizer, torch.device("cpu"))
    state = optimizer.state[p]
    assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float64
    assert torch.equal(state["exp_avg"], exp_avg.double())  # the same values, cast
    # as a move between CPU and GPU does, keep each Parameter object (meta would otherwise get
    # new ones, which the optimizer does not hold)
    swap = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        model.to("meta")
    finally:
        torch.__future__.set_swap_module_params_on_conversion(swap)
    move_optimizer_state(optimizer, torch.device("meta"))
    for p in model.parameters():
        state = optimizer.state[p]
        assert state["exp_avg"].device.type == state["exp_avg_sq"].device.type == "meta"
        assert state["step"].device.type == "cpu" and state["step"].dtype == torch.float32


@pytest.mark.parametrize("cls", [torch.optim.Adam, torch.optim.SGD, torch.optim.Adagrad])
def test_a_move_sets_the_fused_switch_for_the_new_device(cls):
    """gdsim steps these classes fused on the CPU only: leaving the CPU turns the switch off (no
    fused kernel a device may lack); arriving on the CPU turns it on, and the state still steps
    (``meta`` stands in for a GPU; its tensors hold no data, so it is a one-way trip)."""

    def stepped(**switch):
        model = torch.nn.Linear(3, 2)
        momentum = {"momentum": 0.9} if cls is torch.optim.SGD else {}  # SGD's state: its buffer
        optimizer = cls(model.parameters(), lr=0.1, **momentum, **switch)
        model(torch.ones(4, 3)).sum().backward()
        optimizer.step()
        return model, optimizer

    model, optimizer = stepped(**fused_kwargs(cls, "cpu"))
    assert optimizer.param_groups[0]["fused"] is True
    swap = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)  # keep the Parameter objects
    try:
        model.to("meta")
    finally:
        torch.__future__.set_swap_module_params_on_conversion(swap)
    move_optimizer_state(optimizer, torch.device("meta"))
    assert not optimizer.param_groups[0]["fused"]

    model, optimizer = stepped()  # as built on a GPU: torch's default implementation
    assert not optimizer.param_groups[0]["fused"]
    move_optimizer_state(optimizer, torch.device("cpu"))
    assert optimizer.param_groups[0]["fused"] is True
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()  # a fused step accepts the state the loop left
