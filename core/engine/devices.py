"""Which compute devices exist, and turning a user's request into one — or a clear error.

Why a module of its own: the rule "asking for a device that is not there is an error naming what
is available, never a silent fallback and never a hang" must hold the same way for the window's
device menu, ``gdsim train --device`` and a notebook.

Public API
----------
``available_devices() -> list[DeviceInfo]``
    Every device a user could pick, in menu order, each a ``DeviceInfo(name, description,
    available, reason)`` named tuple: ``cpu`` (always), ``cuda`` and ``cuda:0``, ``cuda:1``... when
    CUDA works (otherwise one ``cuda`` entry, unavailable, with the reason), ``mps`` (Apple GPUs).
    ``reason`` is "" for an available device and a one-line explanation otherwise.
``resolve_device(request) -> torch.device``
    ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"`` (= the current CUDA device),
    ``"cuda:N"``, ``"mps"``; case and spaces ignored. Raises ``GdsimError`` naming the available
    devices if the request is malformed or the device is absent.
``device_names() -> list[str]``: names of the available devices only (for messages and menus).
``device_sync(device)``: wait until every kernel queued on ``device`` has run (``cuda``/``mps``;
    nothing to wait for on the CPU): a timing must end after the work, not after its queueing.
``move_optimizer_state(optimizer, device)``: after ``model.to(device)``, bring the optimizer's
    state (momentum buffers, Adam moments, LBFGS history) to the parameters' device, the same way
    ``Optimizer.load_state_dict`` does (scalar ``step`` counters stay where torch wants them).

Only cheap queries are made (``torch.cuda.is_available``, ``device_count``, ``get_device_name``);
nothing allocates on a device, so listing devices never hangs waiting for a busy GPU. Tests simulate
CUDA by monkeypatching ``torch.cuda.is_available`` / ``torch.cuda.device_count`` (and optionally
``torch.cuda.get_device_name``); the same code runs unchanged on a real GPU.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import torch

from core.engine.optimizers import FUSED_ON_CPU, fused_kwargs
from core.errors import GdsimError


class DeviceInfo(NamedTuple):
    name: str  # what to pass to resolve_device: "cpu", "cuda:0", "mps"
    description: str  # for a menu: "NVIDIA GeForce RTX 3060 (cuda:0)"
    available: bool
    reason: str  # why not, one line; "" when available


def _cuda_count() -> int:
    try:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # a broken driver reports through exceptions: treat as "no CUDA"
        return 0


def _cuda_reason() -> str:
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return "this PyTorch build has no CUDA support (it is a CPU-only build)"
    return "no CUDA GPU found (or the driver is not working)"


def _cuda_name(index: int) -> str:
    try:
        return str(torch.cuda.get_device_name(index))
    except Exception:
        return "CUDA GPU"


def _mps_available() -> bool:
    try:
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    except Exception:
        return False


def _mps_reason() -> str:
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_built():
        return "this PyTorch build has no MPS support (MPS is for Apple-silicon Macs)"
    return "MPS is not available (needs macOS 12.3+ on an Apple-silicon Mac)"


def available_devices() -> list[DeviceInfo]:
    """Every device a user could choose, available or not, in menu order."""
    devices = [DeviceInfo("cpu", "CPU", True, "")]
    count = _cuda_count()
    if count:
        devices.append(DeviceInfo("cuda", f"{_cuda_name(0)} (default CUDA device)", True, ""))
        for i in range(count):
            devices.append(DeviceInfo(f"cuda:{i}", f"{_cuda_name(i)} (cuda:{i})", True, ""))
    else:
        devices.append(DeviceInfo("cuda", "NVIDIA GPU (CUDA)", False, _cuda_reason()))
    if _mps_available():
        devices.append(DeviceInfo("mps", "Apple GPU (MPS)", True, ""))
    else:
        devices.append(DeviceInfo("mps", "Apple GPU (MPS)", False, _mps_reason()))
    return devices


def device_names() -> list[str]:
    """Names of the devices that can be used right now."""
    return [d.name for d in available_devices() if d.available]


_PATTERN = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


def resolve_device(request: str | torch.device = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into a ``torch.device`` that exists, or raise GdsimError."""
    if isinstance(request, torch.device):
        request = str(request)
    text = str(request).strip().lower().replace(" ", "")
    match = _PATTERN.match(text)
    if not match or (match.group(2) is not None and match.group(1) != "cuda"):
        raise GdsimError(
            f"unknown device '{request}' (use auto, cpu, cuda, cuda:N or mps; "
            f"available here: {', '.join(device_names())})"
        )
    kind, index = match.group(1), match.group(2)
    count = _cuda_count()
    if kind == "auto":
        if count:
            return torch.device("cuda", torch.cuda.current_device() if _safe_current() else 0)
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "mps":
        if not _mps_available():
            raise GdsimError(f"device 'mps' is not available: {_mps_reason()}; {_available_text()}")
        return torch.device("mps")
    # cuda / cuda:N
    if count == 0:
        raise GdsimError(f"device '{text}' is not available: {_cuda_reason()}; {_available_text()}")
    if index is None:
        return torch.device("cuda", torch.cuda.current_device() if _safe_current() else 0)
    if int(index) >= count:
        plural = "device" if count == 1 else "devices"
        raise GdsimError(
            f"device '{text}' is not available: this machine has {count} CUDA {plural}; "
            f"{_available_text()}"
        )
    return torch.device("cuda", int(index))


def _safe_current() -> bool:
    """True if asking for the current CUDA device is safe (it is on a real, initialised GPU)."""
    try:
        torch.cuda.current_device()
        return True
    except Exception:
        return False


def _available_text() -> str:
    return "available: " + ", ".join(device_names())


def move_optimizer_state(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Move ``optimizer``'s state to its parameters' (new) device, keeping every value.

    Call after ``model.to(device)`` (``Module.to`` moves parameters in place, so the optimizer
    still holds the same parameter objects). A state_dict round trip is the documented way:
    ``load_state_dict`` casts each state tensor to its parameter's device and dtype, and keeps
    the scalar ``step`` counters where each optimizer expects them (on the CPU unless capturable
    or fused), which hand-written ``.to()`` loops get wrong. The ``fused`` switch gdsim builds
    with on the CPU (``fused_kwargs``) is set for ``device`` first, so it never runs a fused
    kernel a device lacks, and is back on after a return to the CPU.
    """
    state = optimizer.state_dict()
    if type(optimizer) in FUSED_ON_CPU:
        fused = fused_kwargs(type(optimizer), device).get("fused", None)
        for group in state["param_groups"]:
            group["fused"] = fused
    optimizer.load_state_dict(state)


#: How to wait for a device's queued kernels, by device type; the CPU runs each op before it
#: returns, so it has nothing here. (Looked up at call time: tests fake torch.cuda.synchronize.)
_SYNC = {
    "cuda": lambda device: torch.cuda.synchronize(device),
    "mps": lambda _device: torch.mps.synchronize(),
}


def device_sync(device: torch.device | str) -> None:
    """Block until ``device`` has finished every kernel queued so far (no-op on the CPU)."""
    device = torch.device(device)
    sync = _SYNC.get(device.type)
    if sync is not None:
        sync(device)
