"""Commands to a ``TrainingEngine``: frozen values any thread sends, the driver applies between batches.

Why values and not method names: each type has exactly one handler in the engine (a registry keyed
by type, see ``TrainingEngine.send``), so a command the engine does not know is refused when sent,
not when a string happens to miss a branch.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from core.errors import GdsimError

if TYPE_CHECKING:
    import torch

    from core.engine.datasets import GeneratedData
    from core.engine.training import TrainConfig


@dataclass(frozen=True)
class Resume:
    """Run (or resume) training."""


@dataclass(frozen=True)
class Pause:
    """Hold training after the current batch."""


@dataclass(frozen=True)
class Stop:
    """End ``run()`` at the next step boundary (training can continue with another run())."""


@dataclass(frozen=True)
class Step:
    """Pause (if running), then train exactly ``n`` batches."""

    n: int = 1


@dataclass(frozen=True)
class SetHparams:
    """Change optimizer hyperparameters of one lane (None: every lane) from the next batch on."""

    lane: int | None
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class SetDevice:
    """Move the run to another device (a name until sent; the engine resolves it)."""

    device: str | torch.device


@dataclass(frozen=True)
class RequestBoundary:
    """Class probabilities on an n×n grid for ``lanes`` (None: all); arrive in ``Update``."""

    n: int = 100
    lanes: tuple[int, ...] | None = None


@dataclass(frozen=True, eq=False)
class RequestWeights:
    """A ``WeightsSnapshot`` of ``lane``, set on ``future`` by the driver between two batches."""

    lane: int = 0
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


@dataclass(frozen=True)
class Reset:
    """Start over from the seed with ``config`` (None: the current one). ``data`` and ``device``
    are filled in by the sending thread, so a bad option is refused there."""

    config: TrainConfig | None = None
    data: GeneratedData | None = None
    device: torch.device | None = None


#: Every command type, for the engine's registry to cover (a test checks it does).
COMMANDS = (
    Resume,
    Pause,
    Stop,
    Step,
    SetHparams,
    SetDevice,
    RequestBoundary,
    RequestWeights,
    Reset,
)
Command = Union[COMMANDS]  # noqa: UP007 (a Union of a tuple needs the subscript form)


def check_command(command: object) -> None:
    """GdsimError naming ``command`` unless it is one of the command types above."""
    if type(command) not in COMMANDS:
        raise GdsimError(f"not a training command: {command!r}")
