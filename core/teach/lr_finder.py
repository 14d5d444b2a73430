"""The learning-rate range test (Smith, 2017): train briefly while the lr grows exponentially.

Picking an lr is a student's first question, and the range test answers it in one short run: start
tiny, multiply the lr by a constant factor every batch (``lr_i = lr_min * q**i``, the last batch at
``lr_max``, by a real ``LambdaLR``) and read the lr where the smoothed loss falls fastest off the
curve (:func:`suggest_lr`). It trains a fresh copy of a Training lane built as ``TrainingEngine``
builds it (same data, seed and batch order), so the curve is the one the run would have seen from
its first batch, and the run itself is never touched. The idea is fastai's ``lr_find`` and
torch-lr-finder's; the details are gdsim's own, so its numbers are not theirs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from core.engine.devices import resolve_device
from core.engine.optimizers import OptimizerSpec
from core.engine.runtime import torch_threads
from core.engine.training import TrainConfig, build_mlp
from core.errors import GdsimError

DEFAULT_LR_MIN = 1e-6
DEFAULT_LR_MAX = 10.0
DEFAULT_STEPS = 100
MIN_STEPS = 10  # fewer points are not a curve
MAX_STEPS = 100_000
MAX_LR = 1e6
SMOOTHING = 0.9  # bias-corrected EMA weight of the past, as the Training view's loss plot
DIVERGE_FACTOR = 4.0  # stop when the smoothed loss exceeds this multiple of its best value
MIN_POINTS = 10  # finite points needed for a suggestion
FLAT_FRACTION = 0.01  # a curve that moves less than this fraction of its level is flat
SKIP_START = 0.05  # fraction of the points (at least 1) ignored at the start (EMA settling)
MIN_FALLING = 5  # points on the falling part needed to trust a slope
REPORT_EVERY_S = 0.05  # progress reports at most ~20 a second

Reporter = Callable[[float, str], None]
Canceller = Callable[[], bool]


@dataclass(frozen=True)
class LRPoint:
    """One measured step, as it happens (for a live plot)."""

    step: int  # 0-based
    lr: float  # the lr this batch's optimizer.step() used
    loss: float  # this batch's loss (before the step), may be nan/inf at divergence
    smoothed: float  # bias-corrected EMA of the losses so far (nan once a loss was non-finite)


@dataclass(frozen=True)
class LRFinderResult:
    """A finished (or stopped) range test: the curve, the suggestion and how it was found."""

    lrs: np.ndarray  # (k,) float64, lr of each step, increasing
    losses: np.ndarray  # (k,) float64, raw batch losses
    smoothed: np.ndarray  # (k,) float64, bias-corrected EMA (nan after a non-finite loss)
    suggestion: float | None  # the suggested lr, None if the curve does not allow one
    rule: str  # "steepest" | "min/10" | "" (no suggestion)
    reason: str  # one line: why this value, or why none
    stopped: str  # "completed" | "diverged" | "cancelled"
    diverged_at: int | None  # step at which it stopped for divergence (kept in the curves)
    lr_min: float
    lr_max: float
    steps: int  # steps asked for (len(lrs) may be fewer)
    optimizer: str  # the lane's SPEC, canonical text ("Adam(lr=0.01)")
    optimizer_class: str  # the torch class actually stepped ("torch.optim.adam.Adam")
    lane: int
    device: str
    seconds: float
    valley: float | None = None  # fastai's "valley" suggestion (valley_lr), shown beside it

    @property
    def best_index(self) -> int | None:
        """Index of the lowest smoothed loss (None if there is no finite point)."""
        finite = np.isfinite(self.smoothed)
        if not finite.any():
            return None
        return int(np.nanargmin(np.where(finite, self.smoothed, np.nan)))


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise GdsimError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise GdsimError(f"{name} must be a positive learning rate, got {v:g}")
    if v > MAX_LR:
        raise GdsimError(f"{name} must be at most {MAX_LR:g}, got {v:g}")
    return v


def check_request(
    config: TrainConfig,
    lane: int = 0,
    lr_min: float = DEFAULT_LR_MIN,
    lr_max: float = DEFAULT_LR_MAX,
    steps: int = DEFAULT_STEPS,
) -> OptimizerSpec:
    """Validate a range-test request; return the lane's optimizer SPEC. GdsimError, one line."""
    if not isinstance(config, TrainConfig):
        raise GdsimError(f"the LR finder needs a TrainConfig, got {type(config).__name__}")
    specs = config.optimizer_specs()
    if isinstance(lane, bool) or not isinstance(lane, (int, np.integer)):
        raise GdsimError(f"lane must be a whole number, got {lane!r}")
    if not 0 <= lane < len(specs):
        raise GdsimError(f"no lane {lane} (lanes 0..{len(specs) - 1})")
    lo, hi = _number("lr_min", lr_min), _number("lr_max", lr_max)
    if lo >= hi:
        raise GdsimError(f"lr_min must be below lr_max, got lr_min={lo:g} ≥ lr_max={hi:g}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise GdsimError(f"steps must be a whole number, got {steps!r}")
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise GdsimError(
            f"the LR finder needs {MIN_STEPS}..{MAX_STEPS} steps to draw a curve, got {steps}"
        )
    spec = specs[int(lane)]
    if spec.info.needs_closure:
        raise GdsimError(
            f"the LR finder does not support {spec.name}: each step() runs its own inner "
            "iterations through a closure, so one lr is not one batch's step"
        )
    if "lr" not in spec.hparams():
        raise GdsimError(f"the LR finder needs an optimizer with an lr; {spec.name} has none")
    return spec


# --------------------------------------------------------------------------------------------
# The suggestion
# --------------------------------------------------------------------------------------------


def suggest_lr(
    lrs: np.ndarray, smoothed: np.ndarray, diverged: bool = False
) -> tuple[float | None, str, str]:
    """``(lr, rule, reason)`` from a smoothed loss curve.

    ``"steepest"``: the lr of the most negative slope (``numpy.gradient``) of the smoothed loss
    against log10(lr), after the first ``SKIP_START`` of points and up to, not at, its minimum
    (fastai's ``steep``, which may land past the minimum on a noisy blow-up): where the network
    learns fastest while still stable. ``"min/10"``: a tenth of the lr at the minimum, when the
    falling part is too short for a slope. None: too few finite points, or a flat curve.
    ``diverged``: the last point is the blow-up that stopped the run; it is left out.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    sm = np.asarray(smoothed, dtype=np.float64)
    if diverged and len(sm):
        lrs, sm = lrs[:-1], sm[:-1]
    finite = np.isfinite(sm) & np.isfinite(lrs) & (lrs > 0)
    # only the finite prefix: after a NaN the average means nothing
    end = int(np.argmin(finite)) if not finite.all() else len(sm)
    lrs, sm = lrs[:end], sm[:end]
    n = len(sm)
    if n < MIN_POINTS:
        return None, "", f"too short for a suggestion: {n} usable points (need {MIN_POINTS})"
    level = float(np.max(np.abs(sm)))
    spread = float(np.max(sm) - np.min(sm))
    if level == 0 or spread < FLAT_FRACTION * level:
        return (
            None,
            "",
            f"the loss is flat over this range (moved {spread / level if level else 0:.1%}): "
            "widen the range",
        )
    best = int(np.argmin(sm))
    start = max(1, int(math.ceil(SKIP_START * n)))
    if best - start + 1 >= MIN_FALLING:
        x = np.log10(lrs[start : best + 1])
        y = sm[start : best + 1]
        slope = np.gradient(y, x)[:-1]  # not at the minimum itself (a one-sided difference)
        i = int(np.argmin(slope))
        if slope[i] < 0:
            lr = float(lrs[start + i])
            return (
                lr,
                "steepest",
                f"steepest descent of the smoothed loss at lr {lr:.3g} "
                f"(lowest loss at lr {lrs[best]:.3g})",
            )
    lr = float(lrs[best] / 10)
    where = " — it was lowest near the start: try a lower lr_min" if best < start + 2 else ""
    return lr, "min/10", f"a tenth of the lr at the lowest loss ({lrs[best]:.3g}){where}"


def valley_lr(lrs: np.ndarray, smoothed: np.ndarray, steps: int | None = None) -> float | None:
    """fastai's ``valley`` suggestion for a smoothed loss curve (None: fewer than 2 points).

    As fastai's ``lr_find`` does: drop the first ``steps // 10`` and the last 5 points (``steps``:
    the steps asked for, default ``len(lrs)``) and cut the rest at its first nan. Then, by
    fastai's definition: the longest strictly decreasing subsequence of the losses (the first
    one to reach that length, scanning left to right) ends at index ``end`` and has ``length``
    points; with ``start = end - length`` and ``third = (end - start) / 3`` the suggestion is the
    lr at ``start + int(third) + int(third / 2)``, about half-way down the valley. That index is
    -1 when the longest decrease starts at the first kept point and has at most 2 points (a
    curve that hardly falls): fastai's indexing then wraps round to the highest lr; here it is
    the first kept point.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(smoothed, dtype=np.float64)
    steps = len(lrs) if steps is None else int(steps)
    end_cut = max(0, len(losses) - 5)
    lrs, losses = lrs[steps // 10 : end_cut], losses[steps // 10 : end_cut]
    nan = np.flatnonzero(np.isnan(losses))
    if len(nan):
        lrs, losses = lrs[: nan[0]], losses[: nan[0]]
    n = len(losses)
    if n < 2:
        return None
    longest = [1] * n  # longest[i]: points of the longest decreasing subsequence ending at i
    end = 0
    for i in range(1, n):
        higher = [longest[j] for j in range(i) if losses[j] > losses[i]]
        if higher:
            longest[i] = 1 + max(higher)
        if longest[i] > longest[end]:
            end = i
    start = end - longest[end]
    third = (end - start) / 3
    return float(lrs[max(0, start + int(third) + int(third / 2))])


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _batches(loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The loader's batches, epoch after epoch (the sampler draws a new order each epoch)."""
    while True:
        yield from loader


def find_lr(
    config: TrainConfig,
    lane: int = 0,
    lr_min: float = DEFAULT_LR_MIN,
    lr_max: float = DEFAULT_LR_MAX,
    steps: int = DEFAULT_STEPS,
    *,
    smoothing: float = SMOOTHING,
    diverge_factor: float = DIVERGE_FACTOR,
    report: Reporter | None = None,
    cancelled: Canceller | None = None,
    on_step: Callable[[LRPoint], None] | None = None,
) -> LRFinderResult:
    """Run the range test for one lane of ``config``.

    ``report(fraction, text)`` is called a few times a second and ``cancelled()`` polled before
    every batch (a cancelled run returns what it has, without a suggestion), as
    ``app.tasks.BackgroundTask`` calls its function; ``on_step`` gets every point, for a live plot.
    """
    spec = check_request(config, lane, lr_min, lr_max, steps)
    if not 0 <= smoothing < 1:
        raise GdsimError(f"smoothing must be in [0, 1), got {smoothing!r}")
    if not diverge_factor > 1:
        raise GdsimError(f"diverge_factor must be above 1, got {diverge_factor!r}")
    lr_min, lr_max, steps = float(lr_min), float(lr_max), int(steps)
    device = resolve_device(config.device)
    t0 = time.perf_counter()
    with torch_threads(config.threads_for_cpu(), device):
        lrs, losses, smoothed, stopped, diverged_at, cls = _run(
            config, spec, device, lr_min, lr_max, steps, smoothing, diverge_factor,
            report, cancelled, on_step,
        )  # fmt: skip
    seconds = time.perf_counter() - t0
    valley = None
    if stopped == "cancelled":
        suggestion, rule = None, ""
        reason = f"cancelled after {len(lrs)} of {steps} steps"
    else:
        suggestion, rule, reason = suggest_lr(lrs, smoothed, diverged=diverged_at is not None)
        valley = valley_lr(lrs, smoothed, steps)
    if report is not None:
        report(1.0 if stopped != "cancelled" else len(lrs) / steps, reason)
    return LRFinderResult(
        lrs=np.asarray(lrs, dtype=np.float64),
        losses=np.asarray(losses, dtype=np.float64),
        smoothed=np.asarray(smoothed, dtype=np.float64),
        suggestion=suggestion,
        rule=rule,
        reason=reason,
        stopped=stopped,
        diverged_at=diverged_at,
        lr_min=lr_min,
        lr_max=lr_max,
        steps=steps,
        optimizer=str(spec),
        optimizer_class=cls,
        lane=int(lane),
        device=str(device),
        seconds=seconds,
        valley=valley,
    )


def _run(
    config: TrainConfig,
    spec: OptimizerSpec,
    device: torch.device,
    lr_min: float,
    lr_max: float,
    steps: int,
    beta: float,
    diverge_factor: float,
    report: Reporter | None,
    cancelled: Canceller | None,
    on_step: Callable[[LRPoint], None] | None,
) -> tuple[list[float], list[float], list[float], str, int | None, str]:
    # -- what TrainingEngine._build does for a lane (same seed path, same data, same order) --
    data = config.make_data()
    x_train, y_train, _x_val, _y_val = data.tensors()
    train_set = TensorDataset(x_train, y_train)
    model = build_mlp(config.hidden, config.activation, data.n_classes, config.seed).to(device)
    sampler = RandomSampler(train_set, generator=torch.Generator().manual_seed(config.seed))
    train_loader = DataLoader(
        train_set,
        batch_size=None,
        sampler=BatchSampler(sampler, batch_size=config.batch_size, drop_last=False),
        # only for the per-epoch worker base seed it draws (unused without workers): without
        # it, that draw comes from the global RNG, which a notebook's own seeding would feel
        generator=torch.Generator().manual_seed(config.seed),
    )
    loss_fn = nn.CrossEntropyLoss()
    optimizer = spec.build(model.parameters())
    # -- the range: lr_i = lr_min * q**i, i = 0..steps-1, by a real torch scheduler ----------
    for group in optimizer.param_groups:
        group["lr"] = lr_min
    q = (lr_max / lr_min) ** (1.0 / (steps - 1))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: q**i)
    cls = f"{type(optimizer).__module__}.{type(optimizer).__qualname__}"

    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best = 0.0, math.inf
    stopped, diverged_at = "completed", None
    last_report = -math.inf
    batches = _batches(train_loader)

    model.train()  # Set the model to training mode
    for i in range(steps):
        if cancelled is not None and cancelled():
            stopped = "cancelled"
            break
        data_b, targets = next(batches)
        # 1. Move data to the target device
        data_b = data_b.to(device)
        targets = targets.to(device)
        lr = float(optimizer.param_groups[0]["lr"])

        # 2. Forward pass: get model predictions
        scores = model(data_b)
        loss = loss_fn(scores, targets)

        # 3. Backward pass: zero old gradients, then compute new ones
        optimizer.zero_grad()
        loss.backward()

        # 4. Update parameters: the optimizer takes a step; then raise the lr
        optimizer.step()
        scheduler.step()

        value = float(loss.item())
        if math.isfinite(value):
            avg = beta * avg + (1 - beta) * value
            smooth = avg / (1 - beta ** (i + 1))  # bias correction: the average starts at 0
        else:
            smooth = math.nan
        lrs.append(lr)
        losses.append(value)
        smoothed.append(smooth)
        if on_step is not None:
            on_step(LRPoint(i, lr, value, smooth))
        # a blow-up ends the run; its point stays in the curve, the suggestion leaves it out
        if not math.isfinite(smooth) or smooth > diverge_factor * best:
            stopped, diverged_at = "diverged", i
            break
        best = min(best, smooth)
        now = time.perf_counter()
        if report is not None and now - last_report >= REPORT_EVERY_S:
            last_report = now
            report((i + 1) / steps, f"step {i + 1}/{steps} · lr {lr:.3g} · loss {value:.4g}")
    return lrs, losses, smoothed, stopped, diverged_at, cls
