"""The tutorial's training loop as an engine: commands in from any thread, plain values out.

The window must pause, single-step, change the lr and draw the decision boundary while a network
learns, and ``gdsim train`` must print the same numbers headless, so the canonical PyTorch loop
lives here once (``TrainingEngine._training_loop``: the tutorial's loop, one ``yield`` per batch).

One thread drives a ``TrainingEngine`` (``run()`` or ``step(n)``); commands (``send(Pause())``
with a ``core.engine.commands`` value, or ``pause()``, ``set_hparams(lr=...)``, ...) come from any
thread, are validated there and applied before the next batch; ``drain()`` returns everything
since the last drain as plain values.
States: "ready" -> "running" <-> "paused" -> "finished" | "diverged" | "stopped" (``run()``
continues a stopped run; the others need ``reset()``).

Rules:

* A non-finite loss stops that lane (race lanes go on), and so does, at an epoch's end, a finite
  validation or mean training loss above ``LOSS_LIMIT_FACTOR`` x max(1, its first batch loss). On
  a GPU the test waits for the next flush (no device sync per batch); events name the exact batch.
* Moving device mid-run keeps the run; a failed move stays on the old device (an ``Error`` event).
* Early stopping is signalled once per lane; the lane stops only with ``stop_early``.
* Bounded when nobody drains: a lane's curve keeps at most ``MAX_CURVE_POINTS`` (dropping every
  other point, counted in ``Curve.dropped``), and the newest ``MAX_EVENTS`` events are kept.
  The per-epoch records behind ``metrics()`` are at most ``MAX_HISTORY`` per lane, evenly spaced.
* The seed fixes the data, the split, the initial weights and the batch order (race lanes see the
  same batches); no global random state is touched.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from core.engine.commands import (
    Command,
    Pause,
    RequestBoundary,
    RequestWeights,
    Reset,
    Resume,
    SetDevice,
    SetHparams,
    Step,
    Stop,
    check_command,
)
from core.engine.datasets import GeneratedData, make_dataset, parse_dataset_spec
from core.engine.devices import move_optimizer_state, resolve_device
from core.engine.optimizers import OptimizerSpec, apply_hparams, fused_kwargs, parse_spec
from core.engine.runtime import torch_threads
from core.engine.schedulers import Schedule, SchedulerSpec, parse_scheduler
from core.errors import GdsimError, error_line

FLUSH_SECONDS = 0.02  # losses become floats (and NaN is noticed) at least this often while running
MAX_CURVE_POINTS = 50_000  # per lane, between two drains
MAX_EVENTS = 5_000  # between two drains
#: Per-epoch records kept per lane (for metrics()), evenly spaced (``EvenlySpaced``: first and
#: latest kept). ~0.5 KB each: at 10,000 the window grew by 0.47 KB per epoch for 10,000 epochs
#: (issue 17); at 1,000 memory stops growing after 1,000 epochs (~0.5 MB a lane).
MAX_HISTORY = 1_000
MAX_HIDDEN_LAYERS = 8
MAX_EPOCHS = MAX_BATCH_SIZE = MAX_PATIENCE = 1_000_000  # what a TrainConfig accepts
MAX_VAL_FRACTION = 0.9  # validation share in (0, MAX_VAL_FRACTION]
MAX_LAYER_WIDTH = 1024
IMPROVEMENT = 1e-4  # a validation loss this much below the best counts as an improvement
MAX_TRAJECTORY = 200  # weight snapshots kept per lane (start + epoch ends, thinned when full)
TRAJECTORY_BYTES = 128 * 2**20  # ... and at most about this much memory per lane
#: A lane whose epoch ends with a validation (or mean training) loss above this many times its
#: first batch loss (at least 1) diverged, though finite: confidently wrong by huge logit margins.
LOSS_LIMIT_FACTOR = 1e3

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def get_activation(name: str) -> type[nn.Module]:
    key = str(name).strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise GdsimError(f"unknown activation '{name}' (choose from: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[key]


def parse_hidden(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"16,16"`` -> ``(16, 16)``; ``""``/``"none"`` -> ``()`` (no hidden layer: a linear model).

    Each width must be 1..MAX_LAYER_WIDTH, at most MAX_HIDDEN_LAYERS layers.
    """
    if isinstance(text, str):
        cleaned = text.strip().strip("()[]").strip()
        if cleaned.lower() in ("", "none", "0"):
            return ()
        parts = [p.strip() for p in cleaned.replace(" ", ",").split(",") if p.strip()]
        widths = []
        for p in parts:
            if not (p.isascii() and p.isdigit()):  # isdigit() alone takes "²" and "①"
                raise GdsimError(
                    f"hidden layer sizes must be whole numbers like 16,16; got '{text.strip()}'"
                )
            if len(p) > len(str(MAX_LAYER_WIDTH)) + 1:  # never int() 5,000 digits
                raise GdsimError(f"hidden layer sizes must be 1..{MAX_LAYER_WIDTH}, got {p}")
            widths.append(int(p))
    else:
        widths = list(text)
        if any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) for w in widths):
            raise GdsimError(f"hidden layer sizes must be whole numbers, got {tuple(widths)!r}")
    if len(widths) > MAX_HIDDEN_LAYERS:
        raise GdsimError(f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(widths)}")
    for w in widths:
        if not 1 <= w <= MAX_LAYER_WIDTH:
            raise GdsimError(f"hidden layer sizes must be 1..{MAX_LAYER_WIDTH}, got {w}")
    return tuple(int(w) for w in widths)


def build_mlp(
    hidden: Sequence[int], activation: str, n_classes: int, seed: int, in_features: int = 2
) -> nn.Sequential:
    """A plain MLP ``Linear -> act -> ... -> Linear(n_classes)`` (scores; CrossEntropyLoss applies
    softmax). Initialised like ``nn.Linear``'s own default, but from a seeded generator, on the
    CPU, so every device and every race lane starts from the same weights."""
    act = get_activation(activation)
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:  # skip_init: no default init, so the global RNG is never touched
        layers += [nn.utils.skip_init(nn.Linear, width, h), act()]
        width = h
    layers.append(nn.utils.skip_init(nn.Linear, width, n_classes))
    model = nn.Sequential(*layers)
    init_like_pytorch(model, int(seed))
    return model


def init_like_pytorch(model, seed):
    """PyTorch's default initialisation, drawn from a seeded generator: the same start every time."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
                bound = 1.0 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound, generator=gen)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def _positive_int(name: str, value: Any, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GdsimError(f"{name} must be a whole number, got {value!r}")
    if not 1 <= value <= high:
        raise GdsimError(f"{name} must be between 1 and {high}, got {value}")
    return int(value)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Validated on construction (GdsimError, one line).

    ``optimizers``: one SPEC (a plain string is accepted) or several for race mode. ``dataset`` may
    carry options (``"spiral(arms=4)"``); ``dataset_options`` overrides them. ``noise=None`` uses
    the data set's default. ``patience=None`` turns the early-stopping signal off.
    """

    dataset: str = "moons"
    samples: int = 1000
    noise: float | None = None
    val_fraction: float = 0.2
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    optimizers: tuple[str, ...] = ("Adam(lr=0.01)",)
    scheduler: str | None = None
    epochs: int = 30
    batch_size: int = 32
    device: str = "auto"
    seed: int = 0
    patience: int | None = 10
    stop_early: bool = False
    cpu_threads: int | None = None  # torch intra-op threads on the CPU; None: 1 (see below)

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "hidden", parse_hidden(self.hidden))
        get_activation(self.activation)
        opts = (self.optimizers,) if isinstance(self.optimizers, str) else tuple(self.optimizers)
        if not opts:
            raise GdsimError("at least one optimizer is needed")
        fix(self, "optimizers", tuple(str(parse_spec(o)) for o in opts))  # canonical text
        if self.scheduler is not None and str(self.scheduler).strip().lower() in ("", "none"):
            fix(self, "scheduler", None)
        if self.scheduler is not None:
            parse_scheduler(self.scheduler)
        fix(self, "epochs", _positive_int("epochs", self.epochs, MAX_EPOCHS))
        fix(self, "batch_size", _positive_int("batch size", self.batch_size, MAX_BATCH_SIZE))
        if self.patience is not None:
            fix(self, "patience", _positive_int("patience", self.patience, MAX_PATIENCE))
        if self.cpu_threads is not None:
            fix(self, "cpu_threads", _positive_int("cpu_threads", self.cpu_threads, 1024))
        share = self.val_fraction
        if not isinstance(share, (int, float)) or not 0 < share <= MAX_VAL_FRACTION:
            raise GdsimError(f"val_fraction must be in (0, {MAX_VAL_FRACTION}], got {share!r}")
        parse_dataset_spec(self.dataset)
        fix(self, "dataset_options", dict(self.dataset_options))

    def threads_for_cpu(self) -> int:
        """Intra-op threads to train with on the CPU: ``cpu_threads``, or 1 by default.

        Measured on the shared 2-core dev box with torch's default of 2 OpenMP threads: small ops
        called from a non-main thread (the window's worker) cost 10-20x more (a 32x16 Linear 4 us
        -> 90 us), halving training speed or worse, and a 100x100 decision-boundary grid took
        64 ms instead of 0.9 ms while other processes kept the cores busy (OpenMP's barriers wait
        for a descheduled thread). One thread is never that slow; at worst a very large network
        on an idle machine runs up to ~2x slower, which ``cpu_threads`` can undo.
        """
        return 1 if self.cpu_threads is None else self.cpu_threads

    def optimizer_specs(self) -> list[OptimizerSpec]:
        return [parse_spec(o) for o in self.optimizers]

    def scheduler_spec(self) -> SchedulerSpec | None:
        return None if self.scheduler is None else parse_scheduler(self.scheduler)

    def make_data(self) -> GeneratedData:
        return make_dataset(
            self.dataset,
            samples=self.samples,
            noise=self.noise,
            val_fraction=self.val_fraction,
            seed=self.seed,
            **self.dataset_options,
        )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["optimizers"] = list(self.optimizers)
        return d


# --------------------------------------------------------------------------------------------
# Events out (plain values only)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochEnd:
    kind: ClassVar[str] = "epoch"
    lane: int
    lane_name: str
    epoch: int  # 1-based, as the tutorial prints it
    epochs: int
    train_loss: float  # mean of this epoch's batch losses (what the tutorial's lines show)
    train_accuracy: float  # on the whole training set, in eval mode, after the epoch
    val_loss: float
    val_accuracy: float
    lr: float  # lr used for the epoch's last batch (before an epoch-end scheduler step)
    next_lr: float  # lr in force for the next epoch
    best_val_loss: float
    best_epoch: int
    epochs_without_improvement: int
    steps: int  # batches this lane has trained so far
    steps_per_second: float  # over this epoch's active time, validation included
    seconds: float  # active training time so far


@dataclass(frozen=True)
class EarlyStop:
    kind: ClassVar[str] = "early_stop"
    lane: int
    lane_name: str
    epoch: int
    best_epoch: int
    best_val_loss: float
    patience: int
    stopped: bool  # True if the lane stopped (config.stop_early), False if only signalled


@dataclass(frozen=True)
class Diverged:
    kind: ClassVar[str] = "diverged"
    lane: int
    lane_name: str
    epoch: int  # 1-based epoch in which it happened
    batch: int  # batch index within the epoch (-1: during validation)
    step: int  # global batch index
    loss: float  # nan or inf, or a finite loss above ``limit``
    limit: float = math.inf  # the lane's loss limit the loss exceeded (inf: non-finite loss)
    quantity: str = "loss"  # which loss: "loss", "validation loss" or "mean training loss"

    @property
    def reason(self) -> str:
        """Why, in a few words for a status line: "loss became nan", "validation loss 6.02e+04
        exceeded the limit 1000"."""
        if not math.isfinite(self.limit) or not math.isfinite(self.loss):
            return f"{self.quantity} became {self.loss}"
        return f"{self.quantity} {self.loss:.3g} exceeded the limit {self.limit:.4g}"

    @property
    def explanation(self) -> str:
        """``reason``, plus what the limit is when a finite loss exceeded it (for a message)."""
        if not math.isfinite(self.limit) or not math.isfinite(self.loss):
            return self.reason
        factor = f"{LOSS_LIMIT_FACTOR:g}"
        return f"{self.reason} ({factor}× the first batch's loss, at least {factor})"


@dataclass(frozen=True)
class StateChanged:
    kind: ClassVar[str] = "state"
    state: str
    previous: str
    step: int  # engine steps done when the state changed
    reason: str = ""


@dataclass(frozen=True)
class HparamsChanged:
    kind: ClassVar[str] = "hparams"
    lane: int
    lane_name: str
    changes: dict
    lr: float  # lr in force after the change
    step: int  # the change applies from this batch on


@dataclass(frozen=True)
class DeviceChanged:
    kind: ClassVar[str] = "device"
    device: str
    previous: str
    step: int


@dataclass(frozen=True)
class Error:
    kind: ClassVar[str] = "error"
    message: str  # one line


@dataclass(frozen=True)
class ResetDone:
    kind: ClassVar[str] = "reset"
    config: dict  # TrainConfig.as_dict()
    data: GeneratedData  # the new run's points and split (read-only numpy), for a preview plot


Event = (
    EpochEnd
    | EarlyStop
    | Diverged
    | StateChanged
    | HparamsChanged
    | DeviceChanged
    | Error
    | ResetDone
)


@dataclass(frozen=True)
class Boundary:
    """Class probabilities of one lane's model on a grid (for a decision-boundary picture)."""

    lane: int
    lane_name: str
    xs: np.ndarray  # (nx,) float32
    ys: np.ndarray  # (ny,) float32
    probs: np.ndarray  # (ny, nx, n_classes) float32, rows = ys
    step: int
    epoch: int  # completed epochs


@dataclass(frozen=True)
class Curve:
    """Per-batch losses of one lane since the last drain."""

    lane: int
    steps: np.ndarray  # (k,) int64 global batch index, 0-based
    losses: np.ndarray  # (k,) float64
    lrs: np.ndarray  # (k,) float64 lr used for that batch
    dropped: int = 0  # points dropped because nobody drained (see module doc)


@dataclass(frozen=True)
class LaneStatus:
    lane: int
    name: str  # the optimizer SPEC, canonical ("Adam(lr=0.01)")
    state: str  # "training" | "finished" | "diverged" | "stopped early"
    epoch: int  # completed epochs
    batch: int  # batches done in the current epoch
    steps: int
    lr: float  # in force now
    hparams: dict  # every effective hyperparameter, plain values
    last_loss: float  # nan before the first batch
    val_loss: float  # last epoch's; nan before the first epoch
    val_accuracy: float
    optimizer: str = ""  # its name ("Adam"): a live change applies only to the same optimizer


@dataclass(frozen=True)
class Update:
    state: str
    device: str
    epochs: int
    batches_per_epoch: int
    steps: int  # engine steps so far
    steps_per_second: float
    lanes: tuple[LaneStatus, ...]
    curves: tuple[Curve, ...]
    events: tuple[Event, ...]
    boundaries: tuple[Boundary, ...]
    dropped_events: int = 0


def flat_weights(model: nn.Module | Sequence[torch.Tensor]) -> np.ndarray:
    """Every parameter of ``model`` in ``model.parameters()`` order (or the parameters given),
    as one float32 numpy vector on the CPU (a copy). ``torch.nn.utils.vector_to_parameters``
    puts it back into a model built the same way (``build_mlp`` with the run's config)."""
    # Runs at every epoch end, given the lane's parameters (walking the modules costs as much
    # as the copy). CPU float32 (the usual case): one torch.cat straight into a numpy array of
    # its own (no torch object kept alive), 2x cheaper than converting each parameter and
    # concatenating in numpy, which stays for other devices and dtypes.
    found = model.parameters() if isinstance(model, nn.Module) else model
    params = [p.detach() for p in found]
    if all(p.is_cpu and p.dtype == torch.float32 for p in params):
        out = np.empty(sum(p.numel() for p in params), dtype=np.float32)
        torch.cat([p.reshape(-1) for p in params], out=torch.from_numpy(out))
        return out
    return np.concatenate([p.to("cpu", torch.float32).numpy().ravel() for p in params])


class EvenlySpaced(Generic[T]):
    """At most ``limit`` records of a long run, evenly spaced in arrival order, in O(limit) memory.

    Every ``stride``-th record is kept; when ``limit`` is reached every other one goes and the
    stride doubles, so the kept records stay evenly spaced whatever the run's length. The first
    and the latest record are always part of ``records()`` (the latest may come sooner than the
    stride). A sequence: ``len``, iteration and indexing see ``records()``.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(3, int(limit))
        self._kept: list[T] = []
        self._latest: T | None = None
        self._latest_kept = False
        self._stride = 1
        self._count = 0

    def add(self, record: T) -> None:
        self._latest = record
        self._latest_kept = self._count % self._stride == 0
        if self._latest_kept:
            self._kept.append(record)
            if len(self._kept) >= self.limit:  # leave room for the latest
                self._kept = self._kept[::2]  # the first stays
                self._stride *= 2
                self._latest_kept = self._kept[-1] is record
        self._count += 1

    def records(self) -> list[T]:
        kept = list(self._kept)
        if self._latest is not None and not self._latest_kept:
            kept.append(self._latest)
        return kept

    def __len__(self) -> int:
        return len(self._kept) + (self._latest is not None and not self._latest_kept)

    def __iter__(self) -> Iterator[T]:
        return iter(self.records())

    def __getitem__(self, index: int) -> T:
        return self.records()[index]


class WeightTrajectory:
    """A lane's weights at the start and at every epoch end, bounded in count and memory.

    Why: the loss-landscape tool projects the path the weights took onto a plane (Li et al.,
    2018) and finds that plane by PCA of the path. Snapshots are kept ``EvenlySpaced`` in epochs,
    at most ``limit`` of them and about ``TRAJECTORY_BYTES``; the first and the latest record are
    always part of ``points()``.
    """

    def __init__(self, n_params: int, limit: int = MAX_TRAJECTORY) -> None:
        by_memory = TRAJECTORY_BYTES // max(1, 4 * int(n_params))
        self._records: EvenlySpaced[tuple[int, int, np.ndarray]] = EvenlySpaced(
            min(int(limit), int(by_memory))
        )
        self.limit = self._records.limit

    def add(self, step: int, epoch: int, weights: np.ndarray) -> None:
        self._records.add((int(step), int(epoch), weights))

    def __len__(self) -> int:
        return len(self._records)

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps (k,) int64, epochs (k,) int64, weights (k, P) float32), oldest first."""
        records = self._records.records()
        if not records:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        steps = np.array([r[0] for r in records], dtype=np.int64)
        epochs = np.array([r[1] for r in records], dtype=np.int64)
        return steps, epochs, np.stack([r[2] for r in records])


@dataclass(frozen=True)
class WeightsSnapshot:
    """A copy of one lane's network as numbers: enough to rebuild it away from the engine.

    Rebuild with ``build_mlp(config.hidden, config.activation, data.n_classes, config.seed)``
    and ``vector_to_parameters(torch.from_numpy(weights), model.parameters())``.
    """

    lane: int
    lane_name: str
    lane_state: str
    config: TrainConfig
    data: GeneratedData  # immutable: the training points the loss is measured on
    weights: np.ndarray  # (P,) float32, now (possibly mid-epoch)
    steps: int  # batches this lane has trained
    epoch: int  # completed epochs
    trajectory: np.ndarray  # (k, P) float32: at the start and at (kept) epoch ends
    trajectory_steps: np.ndarray  # (k,) int64
    trajectory_epochs: np.ndarray  # (k,) int64


TRAINING, FINISHED, DIVERGED, STOPPED_EARLY = "training", "finished", "diverged", "stopped early"
DONE_STATES = ("finished", "diverged")
_EPOCH_END = object()  # what the loop yields after an epoch's validation pass


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


class _Lane:
    """One network + optimizer (+ scheduler) and its own DataLoader; race mode has several."""

    def __init__(
        self,
        index: int,
        name: str,
        spec: OptimizerSpec,
        model: nn.Module,
        train_set: TensorDataset,
        batch_size: int,
        seed: int,
    ) -> None:
        self.index, self.name, self.spec = index, name, spec
        self.model = model
        device = next(model.parameters()).device
        self.optimizer = spec.build(model.parameters(), **fused_kwargs(spec.info.cls, device))
        self.needs_closure = spec.info.needs_closure
        self.schedule: Schedule | None = None
        # Batches are index lists sliced in one go (no per-sample collate: 1.3-2x cheaper here).
        sampler = RandomSampler(train_set, generator=torch.Generator().manual_seed(seed))
        self.train_loader = DataLoader(
            train_set,
            batch_size=None,
            sampler=BatchSampler(sampler, batch_size=batch_size, drop_last=False),
            # Its own generator too: each epoch's iterator draws a worker base seed (unused
            # without workers) from it, else from torch's global RNG, which training would then
            # advance once per epoch (a notebook's own seeded draws after it would change).
            generator=torch.Generator().manual_seed(seed),
        )
        self.state = TRAINING
        self.epoch = 0  # completed epochs
        self.batch = 0  # batches done in the current epoch
        self.steps = 0
        self.pending: list = []  # losses not yet published: floats (CPU) or detached tensors
        self.pending_lrs: list[float] = []
        self.pending_start = 0  # global step of pending[0]
        self.epoch_losses: list[float] = []
        self.epoch_start_active = 0.0
        self.last_loss = math.nan
        self.first_loss = math.nan  # the untrained network's loss on the first batch
        self.last_val = (math.nan, math.nan)
        self.best_val, self.best_epoch, self.since_best = math.inf, 0, 0
        self.early_signalled = False
        self.history: EvenlySpaced[EpochEnd] = EvenlySpaced(MAX_HISTORY)  # for metrics()
        self.loop: Iterator[Any] | None = None
        # Module.to moves parameters in place (see move_optimizer_state): this tuple stays valid
        self.params = tuple(model.parameters())
        start = flat_weights(self.params)
        self.trajectory = WeightTrajectory(start.size)
        self.trajectory.add(0, 0, start)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def loss_limit(self) -> float:
        """Losses above this at an epoch's end mean the lane diverged (see the module doc)."""
        return LOSS_LIMIT_FACTOR * max(1.0, self.first_loss)  # 1e3 while first_loss is nan


# Each command type's handler in the driver, and the check some run in the sending thread first.
_HANDLERS: dict[type, Callable[[TrainingEngine, Any], None]] = {}
_CHECKS: dict[type, Callable[[TrainingEngine, Any], Any]] = {}


def _handles(kind: type) -> Callable[[Callable], Callable]:
    def register(method: Callable) -> Callable:
        _HANDLERS[kind] = method
        return method

    return register


def _checks(kind: type) -> Callable[[Callable], Callable]:
    def register(method: Callable) -> Callable:
        _CHECKS[kind] = method
        return method

    return register


class TrainingEngine:
    """The tutorial's loop, controllable from another thread. See the module docstring."""

    def __init__(self, config: TrainConfig | None = None) -> None:
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._driver = threading.Lock()  # held by whoever is in run()/step()
        self._state = "ready"
        self._single_steps = 0
        self._exit = False
        self._events: deque = deque(maxlen=MAX_EVENTS)
        self._dropped_events = 0
        self._out: dict[int, list] = {}
        self._boundaries: dict[int, Boundary] = {}
        self._status: Update | None = None
        config = config or TrainConfig()
        self._build(config, config.make_data(), resolve_device(config.device))

    # ---- building --------------------------------------------------------------------------

    def _build(self, config: TrainConfig, data: GeneratedData, device: torch.device) -> None:
        self.config, self.data, self.device = config, data, device
        x_train, y_train, x_val, y_val = data.tensors()
        self._train_set = TensorDataset(x_train, y_train)
        self._eval_cpu = (x_train, y_train, x_val, y_val)
        self._eval_cache: tuple[torch.device, tuple] | None = None
        self.loss_fn = nn.CrossEntropyLoss()
        template = build_mlp(config.hidden, config.activation, data.n_classes, config.seed)
        names: list[str] = []
        lanes = []
        sched = config.scheduler_spec()
        for i, spec in enumerate(config.optimizer_specs()):
            name = str(spec)
            if name in names:
                name = f"{name} #{names.count(name) + 1}"
            names.append(str(spec))
            model = copy.deepcopy(template).to(device)  # identical initial weights in every lane
            lane = _Lane(i, name, spec, model, self._train_set, config.batch_size, config.seed)
            if sched is not None:
                lane.schedule = sched.build(lane.optimizer, config.epochs, len(lane.train_loader))
            lane.loop = self._training_loop(lane)
            lanes.append(lane)
        self.lanes: tuple[_Lane, ...] = tuple(lanes)
        self.batches_per_epoch = len(lanes[0].train_loader)
        self.step_count = 0
        self._active = 0.0  # seconds spent stepping
        self._step_t0 = 0.0
        self._rate = (0, 0.0, math.nan)  # (steps, active seconds, steps/s) at the last estimate
        self._last_flush = time.perf_counter()
        self._publish()

    # ---- the loop ------------------------------------------------------------------------------

    def _training_loop(self, lane: _Lane) -> Iterator[Any]:
        """The tutorial's training loop for one lane, as a generator.

        Everything between ``for epoch`` and ``optimizer.step()`` is the tutorial's code; the
        additions are the closure branch (LBFGS re-evaluates the loss itself), a per-batch
        scheduler step, ``yield`` (the engine takes over between batches: it records the loss,
        applies commands, pauses or stops — so a step is exactly one batch) and the validation
        pass the issue asks for after each epoch.
        """
        model, optimizer, loss_fn = lane.model, lane.optimizer, self.loss_fn
        train_loader = lane.train_loader
        num_epochs = self.config.epochs

        model.train()  # Set the model to training mode
        for epoch in range(num_epochs):
            model.train()  # (again: the validation pass below left it in eval mode)
            for batch_idx, (data, targets) in enumerate(train_loader):
                # 1. Move data to the target device (read each batch: the device may change)
                data = data.to(self.device)
                targets = targets.to(self.device)

                if lane.needs_closure:
                    # LBFGS evaluates the loss (and gradients) itself, possibly several times
                    def closure(data=data, targets=targets):
                        optimizer.zero_grad()
                        loss = loss_fn(model(data), targets)
                        loss.backward()
                        return loss

                    loss = optimizer.step(closure)
                else:
                    # 2. Forward pass: get model predictions
                    scores = model(data)
                    loss = loss_fn(scores, targets)

                    # 3. Backward pass: zero old gradients, then compute new ones
                    optimizer.zero_grad()
                    loss.backward()

                    # 4. Update parameters: the optimizer takes a step
                    optimizer.step()

                if lane.schedule is not None:
                    lane.schedule.after_batch()  # only schedulers that step per batch (OneCycleLR)
                yield epoch, batch_idx, loss  # what the tutorial prints; the engine records it

            # Validation after each epoch
            model.eval()
            with torch.no_grad():
                x_all, y_all, n_val = self._eval_tensors()
                scores = model(x_all)  # validation points, then the training points: one pass
                val_loss = loss_fn(scores[:n_val], y_all[:n_val]).item()
                correct = scores.argmax(dim=1) == y_all
                val_accuracy = correct[:n_val].float().mean().item()
                train_accuracy = correct[n_val:].float().mean().item()
            if lane.schedule is not None and math.isfinite(val_loss):
                lane.schedule.after_epoch(val_loss)  # StepLR & co.; ReduceLROnPlateau uses val_loss
            yield _EPOCH_END, val_loss, val_accuracy, train_accuracy

    def _eval_tensors(self) -> tuple:
        """(points, labels, n_val): validation then training points on the current device,
        copied once per device, so one forward pass gives validation loss/accuracy and training
        accuracy (cheaper than two passes)."""
        if self._eval_cache is None or self._eval_cache[0] != self.device:
            x_train, y_train, x_val, y_val = self._eval_cpu
            x_all = torch.cat((x_val, x_train)).to(self.device)
            y_all = torch.cat((y_val, y_train)).to(self.device)
            self._eval_cache = (self.device, (x_all, y_all, len(x_val)))
        return self._eval_cache[1]

    def _step_once(self) -> None:
        """One batch for every lane still training (lock-step, so race lanes stay comparable)."""
        self._step_t0 = t0 = time.perf_counter()
        training = False  # whether a lane is still training after this step
        for lane in self.lanes:
            if lane.state != TRAINING:
                continue
            lr = lane.optimizer.param_groups[0]["lr"]
            try:
                _epoch, batch_idx, loss = next(lane.loop)
            except (ArithmeticError, RuntimeError) as exc:
                if isinstance(exc, RuntimeError) and "overflow" not in str(exc):
                    raise  # a real error (shapes, device, memory): not the optimizer blowing up
                # torch itself failed on absurd numbers (ASGD's float overflow, NAdam's division
                # by zero, lr=1e300 in a float32 state): this lane diverged, the others go on
                self._flush_lane(lane)  # (may already find a nan loss and diverge the lane)
                if lane.state == TRAINING:
                    self._diverge(lane, math.nan, lane.epoch + 1, lane.batch, lane.steps)
                continue
            # CPU: .item() is ~1 us and saves a stack later; GPU: keep it on the device (no sync).
            # (loss.is_cpu: 0.2 us; torch.device.type is a 1.5 us property)
            on_cpu = loss.is_cpu
            value = loss.item() if on_cpu else loss.detach()
            lane.pending.append(value)
            lane.pending_lrs.append(lr)
            lane.steps += 1
            lane.batch = batch_idx + 1
            if on_cpu and not math.isfinite(value):
                self._flush_lane(lane)  # diverges the lane at this very batch
            elif lane.batch == self.batches_per_epoch:
                self._end_epoch(lane)
            training = training or lane.state == TRAINING
        self.step_count += 1
        self._active += time.perf_counter() - t0
        if not training:  # (a lane skipped above was not training before this step either)
            self._finish()

    def _end_epoch(self, lane: _Lane) -> None:
        last_lr = lane.pending_lrs[-1] if lane.pending_lrs else lane.lr  # before any epoch step
        self._flush_lane(lane)
        if lane.state != TRAINING:  # diverged in this epoch's batches
            return
        _, val_loss, val_accuracy, train_accuracy = next(lane.loop)
        lane.epoch += 1
        lane.batch = 0
        if not math.isfinite(val_loss):
            self._diverge(lane, val_loss, lane.epoch, -1, lane.steps - 1)
            return
        train_loss = float(np.mean(lane.epoch_losses)) if lane.epoch_losses else math.nan
        limit = lane.loss_limit
        for quantity, value in (("validation loss", val_loss), ("mean training loss", train_loss)):
            if value > limit:  # finite, but absurd: diverged all the same
                self._diverge(lane, value, lane.epoch, -1, lane.steps - 1, limit, quantity)
                return
        if val_loss < lane.best_val - IMPROVEMENT:
            lane.best_val, lane.best_epoch, lane.since_best = val_loss, lane.epoch, 0
        else:
            lane.since_best += 1
        active = self._active + (time.perf_counter() - self._step_t0)
        seconds = active - lane.epoch_start_active
        lane.epoch_start_active = active
        record = EpochEnd(
            lane=lane.index,
            lane_name=lane.name,
            epoch=lane.epoch,
            epochs=self.config.epochs,
            train_loss=train_loss,
            train_accuracy=train_accuracy,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            lr=last_lr,
            next_lr=lane.lr,
            best_val_loss=lane.best_val,
            best_epoch=lane.best_epoch,
            epochs_without_improvement=lane.since_best,
            steps=lane.steps,
            steps_per_second=self.batches_per_epoch / seconds if seconds > 0 else math.nan,
            seconds=active,
        )
        lane.epoch_losses = []
        lane.last_val = (val_loss, val_accuracy)
        lane.history.add(record)
        lane.trajectory.add(lane.steps, lane.epoch, flat_weights(lane.params))
        events: list[Event] = [record]
        patience = self.config.patience
        if patience is not None and lane.since_best >= patience and not lane.early_signalled:
            lane.early_signalled = True
            stop = self.config.stop_early
            events.append(
                EarlyStop(
                    lane.index,
                    lane.name,
                    lane.epoch,
                    lane.best_epoch,
                    lane.best_val,
                    patience,
                    stop,
                )
            )
            if stop:
                lane.state = STOPPED_EARLY
                lane.loop.close()
        if lane.epoch == self.config.epochs and lane.state == TRAINING:
            lane.state = FINISHED
            lane.loop.close()
        self._emit(*events)

    def _diverge(
        self,
        lane: _Lane,
        loss: float,
        epoch: int,
        batch: int,
        step: int,
        limit: float = math.inf,
        quantity: str = "loss",
    ) -> None:
        lane.state = DIVERGED
        lane.loop.close()
        event = Diverged(lane.index, lane.name, epoch, batch, step, float(loss), limit, quantity)
        self._emit(event)

    def _finish(self) -> None:
        diverged = all(lane.state == DIVERGED for lane in self.lanes)
        self._set_state("diverged" if diverged else "finished")

    # ---- events out ----------------------------------------------------------------------------

    def _flush_lane(self, lane: _Lane) -> None:
        """Turn the lane's pending loss tensors into floats (one device sync) and publish them."""
        if not lane.pending:
            return
        pending = lane.pending
        losses = torch.stack(pending).tolist() if torch.is_tensor(pending[0]) else pending
        lrs = lane.pending_lrs
        start = lane.pending_start
        lane.pending, lane.pending_lrs = [], []
        lane.pending_start = start + len(losses)
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        if bad is not None and lane.state == TRAINING:
            losses, lrs = losses[: bad + 1], lrs[: bad + 1]
            step = start + bad
            epoch, batch = divmod(step, self.batches_per_epoch)
            self._diverge(lane, losses[-1], epoch + 1, batch, step)
        if start == 0:
            lane.first_loss = losses[0]
        lane.epoch_losses.extend(losses)
        lane.last_loss = losses[-1]
        steps = np.arange(start, start + len(losses), dtype=np.int64)
        with self._lock:
            # [steps chunks, loss chunks, lr chunks, point count, dropped count]
            chunks = self._out.setdefault(lane.index, [[], [], [], 0, 0])
            chunks[0].append(steps)
            chunks[1].append(np.asarray(losses, dtype=np.float64))
            chunks[2].append(np.asarray(lrs, dtype=np.float64))
            chunks[3] += len(losses)
            if chunks[3] > MAX_CURVE_POINTS:  # nobody is draining: halve the resolution
                merged = [np.concatenate(c)[::2] for c in chunks[:3]]
                chunks[4] += chunks[3] - len(merged[0])
                chunks[:4] = [[merged[0]], [merged[1]], [merged[2]], len(merged[0])]

    def _flush(self) -> None:
        for lane in self.lanes:
            self._flush_lane(lane)
        self._last_flush = time.perf_counter()
        if all(lane.state != TRAINING for lane in self.lanes) and self._state not in DONE_STATES:
            self._finish()
        self._publish()

    def _emit(self, *events: Event) -> None:
        with self._lock:
            for e in events:
                if len(self._events) == self._events.maxlen:
                    self._dropped_events += 1
                self._events.append(e)

    def _set_state(self, state: str, reason: str = "") -> None:
        previous = self._state
        if state != previous:
            self._state = state
            self._emit(StateChanged(state, previous, self.step_count, reason))
            self._publish()

    def _publish(self) -> None:
        """Snapshot the status for drain() (so readers never touch driver-owned objects)."""
        steps, active = self.step_count, self._active
        if active - self._rate[1] >= 0.25 or (math.isnan(self._rate[2]) and active > 0.02):
            self._rate = (steps, active, (steps - self._rate[0]) / (active - self._rate[1]))
        lanes = tuple(
            LaneStatus(
                lane.index,
                lane.name,
                lane.state,
                lane.epoch,
                lane.batch,
                lane.steps,
                lane.lr,
                lane.spec.hparams(),
                lane.last_loss,
                *lane.last_val,
                optimizer=lane.spec.name,
            )
            for lane in self.lanes
        )
        status = Update(
            self._state,
            str(self.device),
            self.config.epochs,
            self.batches_per_epoch,
            steps,
            self._rate[2],
            lanes,
            (),
            (),
            (),
        )
        with self._lock:
            self._status = status

    @property
    def state(self) -> str:
        return self._state

    def drain(self) -> Update:
        """Everything since the last drain, plus the current status. Any thread; cheap."""
        with self._lock:
            status, out, events, boundaries = (
                self._status,
                self._out,
                self._events,
                self._boundaries,
            )
            dropped = self._dropped_events
            self._out, self._events, self._boundaries = {}, deque(maxlen=MAX_EVENTS), {}
            self._dropped_events = 0
        assert status is not None
        curves = []
        for lane in status.lanes:
            c = out.get(lane.lane)
            if c is None:
                empty = np.zeros(0)
                curves.append(Curve(lane.lane, empty.astype(np.int64), empty, empty))
            else:
                curves.append(
                    Curve(
                        lane.lane,
                        np.concatenate(c[0]),
                        np.concatenate(c[1]),
                        np.concatenate(c[2]),
                        c[4],
                    )
                )
        return Update(
            status.state,
            status.device,
            status.epochs,
            status.batches_per_epoch,
            status.steps,
            status.steps_per_second,
            status.lanes,
            tuple(curves),
            tuple(events),
            tuple(boundaries[k] for k in sorted(boundaries)),
            dropped,
        )

    # ---- commands (any thread) -----------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Queue ``command`` for the driver (any thread). It is checked here first, against the
        engine's lanes, so a bad value or an unknown command raises GdsimError in the caller."""
        check_command(command)
        check = _CHECKS.get(type(command))
        checked = command if check is None else check(self, command)
        if checked is not None:
            self._commands.put(checked)

    def start(self) -> None:
        """Run (or resume) training; same as ``resume``."""
        self.send(Resume())

    def resume(self) -> None:
        self.send(Resume())

    def pause(self) -> None:
        self.send(Pause())

    def stop(self) -> None:
        """End ``run()`` at the next step boundary (training can continue with another run())."""
        self.send(Stop())

    def request_step(self, n: int = 1) -> None:
        """Pause (if running), then train exactly ``n`` batches."""
        self.send(Step(n))

    def set_hparams(self, lane: int | None = None, **changes: Any) -> None:
        """Change optimizer hyperparameters of one lane (or every lane) from the next batch on."""
        self.send(SetHparams(lane, changes))

    def set_device(self, device: str) -> None:
        """Move the run to another device at the next step boundary (state is kept)."""
        self.send(SetDevice(device))

    def request_boundary(self, n: int = 100, lanes: Sequence[int] | None = None) -> None:
        """Ask for class probabilities on an n×n grid; arrives in ``Update.boundaries``."""
        self.send(RequestBoundary(n, None if lanes is None else tuple(lanes)))

    def request_weights(self, lane: int = 0) -> concurrent.futures.Future:
        """A future of a ``WeightsSnapshot`` of ``lane``, taken by the driver between two batches.

        Any thread. A Future rather than a drain() event: the answer goes straight to whoever
        asked (e.g. a background task that then computes a loss landscape), without the view's
        display loop having to forward it. A bad lane number raises GdsimError here; a lane gone
        by the time the driver serves it (a reset to fewer lanes) sets GdsimError on the future.
        Nothing completes it while nobody drives: wait with a timeout.
        """
        command = RequestWeights(lane)
        self.send(command)
        return command.future

    def reset(self, config: TrainConfig | None = None) -> None:
        """Start over from the seed (optionally with new settings). The data set is generated
        here (so a bad option raises GdsimError in the caller); torch objects are built by the
        driver thread."""
        self.send(Reset(config))

    def _lanes_for(self, lane: int | None) -> tuple[_Lane, ...]:
        lanes = self.lanes
        if lane is None:
            return lanes
        if isinstance(lane, bool) or not isinstance(lane, int) or not 0 <= lane < len(lanes):
            raise GdsimError(f"no lane {lane!r} (lanes 0..{len(lanes) - 1})")
        return (lanes[lane],)

    # checks, in the sending thread: what to queue (None: nothing to do), or GdsimError

    @_checks(Step)
    def _check_step(self, command: Step) -> Step:
        return Step(_positive_int("steps", command.n, 1_000_000))

    @_checks(SetHparams)
    def _check_hparams(self, command: SetHparams) -> SetHparams | None:
        if not command.changes:
            return None
        for target in self._lanes_for(command.lane):
            target.spec.with_changes(**command.changes)  # raises GdsimError naming the problem
        return SetHparams(command.lane, dict(command.changes))

    @_checks(SetDevice)
    def _check_device(self, command: SetDevice) -> SetDevice:
        return SetDevice(resolve_device(command.device))  # GdsimError if not available

    @_checks(RequestBoundary)
    def _check_boundary(self, command: RequestBoundary) -> RequestBoundary:
        lanes = None if command.lanes is None else tuple(command.lanes)
        return RequestBoundary(_positive_int("grid size", command.n, 1000), lanes)

    @_checks(RequestWeights)
    def _check_weights(self, command: RequestWeights) -> RequestWeights:
        self._lanes_for(command.lane)
        return command

    @_checks(Reset)
    def _check_reset(self, command: Reset) -> Reset:
        config = command.config or self.config
        return Reset(config, config.make_data(), resolve_device(config.device))

    # ---- driving (one thread) ------------------------------------------------------------------

    def process_commands(self) -> None:
        """Apply every queued command now (the driver calls this before each batch)."""
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            self._apply(command)

    def _apply(self, command: Command) -> None:
        try:
            _HANDLERS[type(command)](self, command)
        except GdsimError as exc:
            self._emit(Error(error_line(exc)))

    def _switch(self, state: str) -> None:
        """Resume, pause or stop: drops pending single steps; a finished run needs a reset."""
        if self._state not in DONE_STATES:
            self._single_steps = 0
            self._set_state(state)

    @_handles(Resume)
    def _on_resume(self, _command: Resume) -> None:
        self._switch("running")

    @_handles(Pause)
    def _on_pause(self, _command: Pause) -> None:
        self._switch("paused")

    @_handles(Stop)
    def _on_stop(self, _command: Stop) -> None:
        self._exit = True  # ends run() even when it is only serving commands
        self._switch("stopped")

    @_handles(Step)
    def _on_step(self, command: Step) -> None:
        if self._state not in DONE_STATES:
            self._set_state("paused")
            self._single_steps += command.n

    @_handles(SetHparams)
    def _on_hparams(self, command: SetHparams) -> None:
        self._apply_hparams(command.lane, dict(command.changes))

    @_handles(SetDevice)
    def _on_device(self, command: SetDevice) -> None:
        self._move_to(command.device)

    @_handles(RequestBoundary)
    def _on_boundary(self, command: RequestBoundary) -> None:
        for b in self.boundary(command.n, command.lanes):
            with self._lock:
                self._boundaries[b.lane] = b

    @_handles(RequestWeights)
    def _on_weights(self, command: RequestWeights) -> None:
        future = command.future
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(self.weights_snapshot(command.lane))
            except GdsimError as exc:
                future.set_exception(exc)

    @_handles(Reset)
    def _on_reset(self, command: Reset) -> None:
        self._flush()
        self._build(command.config, command.data, command.device)
        self._single_steps = 0
        self._emit(ResetDone(self.config.as_dict(), self.data))
        self._set_state("ready")

    def _apply_hparams(self, lane_index: int | None, changes: dict) -> None:
        self._flush()  # so the change lands between published points
        for lane in self._lanes_for(lane_index):
            if lane.state != TRAINING:
                continue
            optimizer = lane.optimizer
            old = [float(g["lr"]) for g in optimizer.param_groups]
            apply_hparams(optimizer, lane.spec.info, changes)
            if "lr" in changes and lane.schedule is not None:
                lane.schedule.follow_lr_change(old)
            lane.spec = lane.spec.with_changes(**changes)
            _base, sep, tag = lane.name.partition(" #")
            lane.name = f"{lane.spec}{sep}{tag}"  # events, metrics and snapshots name what trains
            self._emit(HparamsChanged(lane.index, lane.name, dict(changes), lane.lr, lane.steps))
        self._publish()

    def _move_to(self, device: torch.device) -> None:
        previous = self.device
        if device == previous:
            return
        self._flush()
        try:
            for lane in self.lanes:
                lane.model.to(device)
                move_optimizer_state(lane.optimizer, device)
            self.device = device
            self._eval_tensors()
        except Exception as exc:  # OOM, a driver error, a simulated GPU: stay where we were
            self.device = previous
            for lane in self.lanes:
                lane.model.to(previous)
                move_optimizer_state(lane.optimizer, previous)
            first = error_line(exc)
            self._emit(Error(f"could not move training to {device}: {first}; still on {previous}"))
            self._publish()
            return
        self._emit(DeviceChanged(str(device), str(previous), self.step_count))
        self._publish()

    @contextlib.contextmanager
    def _driving(self) -> Iterator[None]:
        """Refuse a second driver: two threads stepping one model at once would corrupt it."""
        if not self._driver.acquire(blocking=False):
            raise RuntimeError("this engine is already being driven (run/step) by another call")
        try:
            yield
        finally:
            self._driver.release()

    def _cpu_threads(self) -> contextlib.AbstractContextManager[None]:
        """``config.threads_for_cpu()`` intra-op threads in this (driving) thread, then restored."""
        return torch_threads(self.config.threads_for_cpu(), self.device)

    def step(self, n: int = 1) -> int:
        """Train exactly ``n`` batches now in the calling thread (whatever the state; a pause or
        stop arriving meanwhile ends it early). Returns the number of batches done."""
        with self._driving(), self._cpu_threads():
            return self._step_n(n)

    def _step_n(self, n: int) -> int:
        self.process_commands()
        if self._state == "ready":
            self._set_state("paused")
        done = 0
        while done < n and self._state not in DONE_STATES:
            if done and not self._commands.empty():
                before = self._state
                self.process_commands()
                if self._state in ("paused", "stopped") and self._state != before:
                    break
            self._step_once()
            done += 1
            if time.perf_counter() - self._last_flush >= FLUSH_SECONDS:
                self._flush()  # a GPU notices a nan within FLUSH_SECONDS, whatever n is
        self._flush()
        return done

    def run(self, paused: bool = False, exit_when_done: bool = True) -> str:
        """The blocking loop for a worker thread: train until finished, diverged or stopped.

        Commands are applied before every batch; while paused it sleeps on the command queue
        (no busy waiting). Returns the final state.
        """
        with self._driving(), self._cpu_threads():
            return self._run(paused, exit_when_done)

    def _run(self, paused: bool, exit_when_done: bool) -> str:
        self._exit = False
        if self._state not in DONE_STATES:
            self._set_state("paused" if paused else "running")
        self.process_commands()  # after: a pause() or stop() queued before run() still counts
        if self._state == "ready":  # a reset() queued before run(): run() still means run
            self._set_state("paused" if paused else "running")
        while True:
            if not self._commands.empty():
                self.process_commands()
            state = self._state
            if state == "running":
                self._step_once()
                if time.perf_counter() - self._last_flush >= FLUSH_SECONDS:
                    self._flush()
                continue
            if state == "paused" and self._single_steps > 0:
                self._step_once()
                self._single_steps -= 1
                self._flush()
                continue
            if self._exit or state == "stopped" or (state in DONE_STATES and exit_when_done):
                break
            self._flush()
            try:  # paused, ready, or done but still serving: sleep until a command arrives
                command = self._commands.get(timeout=0.5)
            except queue.Empty:
                continue
            self._apply(command)
        self._flush()
        return self._state

    # ---- outputs computed on request -----------------------------------------------------------

    def boundary(self, n: int = 100, lanes: Sequence[int] | None = None) -> list[Boundary]:
        """Class probabilities of each lane's model on an n×n grid over the data's bounds.

        Call from the driving thread (or when nothing is driving); ``request_boundary`` is the
        any-thread version."""
        with self._cpu_threads():
            return self._boundary(n, lanes)

    def _boundary(self, n: int, lanes: Sequence[int] | None) -> list[Boundary]:
        (x0, x1), (y0, y1) = self.data.bounds
        xs = np.linspace(x0, x1, n, dtype=np.float32)
        ys = np.linspace(y0, y1, n, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        grid = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1)).to(self.device)
        out = []
        for lane in self.lanes if lanes is None else [self._lanes_for(i)[0] for i in lanes]:
            model = lane.model
            was_training = model.training
            model.eval()
            with torch.no_grad():
                probs = torch.softmax(model(grid), dim=1).to("cpu", torch.float32).numpy()
            model.train(was_training)
            out.append(
                Boundary(
                    lane.index, lane.name, xs, ys, probs.reshape(n, n, -1), lane.steps, lane.epoch
                )
            )
        return out

    def weights_snapshot(self, lane: int = 0) -> WeightsSnapshot:
        """A copy of ``lane``'s weights, weight trajectory and the run's config.

        Call from the driving thread (or when nothing is driving); ``request_weights`` is the
        any-thread version."""
        target = self._lanes_for(lane)[0]
        steps, epochs, trajectory = target.trajectory.points()
        return WeightsSnapshot(
            lane=target.index,
            lane_name=target.name,
            lane_state=target.state,
            config=self.config,
            data=self.data,
            weights=flat_weights(target.model),
            steps=target.steps,
            epoch=target.epoch,
            trajectory=trajectory,
            trajectory_steps=steps,
            trajectory_epochs=epochs,
        )

    def metrics(self) -> dict[str, Any]:
        """A JSON-ready summary: config, device, per-epoch records per lane, final values."""

        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        lanes = []
        for lane in self.lanes:
            epochs = [
                {
                    k: clean(v)
                    for k, v in asdict(r).items()
                    if k not in ("lane", "lane_name", "epochs")
                }
                for r in lane.history
            ]
            last = lane.history[-1] if lane.history else None
            lanes.append(
                {
                    "name": lane.name,
                    "optimizer": str(lane.spec),
                    "state": lane.state,
                    "epochs": epochs,
                    "final": None
                    if last is None
                    else {
                        "epoch": last.epoch,
                        "train_loss": clean(last.train_loss),
                        "val_loss": clean(last.val_loss),
                        "val_accuracy": clean(last.val_accuracy),
                        "best_val_loss": clean(last.best_val_loss),
                        "best_epoch": last.best_epoch,
                    },
                }
            )
        rate = self.step_count / self._active if self._active > 0 else math.nan
        return {
            "config": self.config.as_dict(),
            "dataset": {
                "name": self.data.name,
                **self.data.params,
                "classes": self.data.n_classes,
                "train": int(len(self.data.train_idx)),
                "val": int(len(self.data.val_idx)),
            },
            "device": str(self.device),
            "state": self._state,
            "batches_per_epoch": self.batches_per_epoch,
            "steps": self.step_count,
            "seconds": self._active,
            "steps_per_second": clean(rate),
            "epochs": lanes[0]["epochs"],
            "final": lanes[0]["final"],
            "lanes": lanes,
        }
