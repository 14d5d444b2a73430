"""Counting host <-> device copies, for the GPU figures of ``gdsim bench``.

On a GPU a training step can be dominated by what crosses the bus (each batch sent over, each
loss read back) rather than by the kernels, so the bench reports the copies per step beside the
speed. Counted at the dispatcher (a ``TorchDispatchMode``), so every ``.to()``, ``.cpu()``,
``copy_`` and ``.item()`` is seen, whoever makes it; slow, so only in an untimed run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

_CPU = torch.device("cpu")


@dataclass
class TransferCount:
    to_device: int = 0  # host -> device copies
    to_host: int = 0  # device -> host copies (a device tensor's .item() is one)

    def add(self, src: torch.device, dst: torch.device) -> None:
        """Count one copy from ``src`` to ``dst`` if exactly one side is the host."""
        if (src.type == "cpu") == (dst.type == "cpu"):
            return  # host to host, or between devices: not a host <-> device transfer
        if src.type == "cpu":
            self.to_device += 1
        else:
            self.to_host += 1


def _copy_ends(func: Any, args: tuple, out: Any) -> tuple[torch.device, torch.device] | None:
    """(source, destination) devices of a copying op, None for any other op."""
    if func is aten._to_copy.default:
        return args[0].device, out.device
    if func is aten.copy_.default:
        return args[1].device, args[0].device
    if func is aten._local_scalar_dense.default:  # .item()
        return args[0].device, _CPU
    return None


class _Counting(TorchDispatchMode):
    def __init__(self, count: TransferCount) -> None:
        super().__init__()
        self.count = count

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        ends = _copy_ends(func, args, out)
        if ends is not None:
            self.count.add(*ends)
        return out


def count_transfers(fn: Callable[[], Any]) -> tuple[Any, TransferCount]:
    """``fn()``'s result and the host <-> device copies it made (in the calling thread)."""
    count = TransferCount()
    with _Counting(count):
        result = fn()
    return result, count
