"""Every registered scheduler against a bare torch loop, for three times its length.

The reference builds ``torch.optim.lr_scheduler`` classes directly (from the arguments gdsim
resolved, with hand-written Python lambdas for the formulas) and runs the tutorial's
``optimizer.step(); scheduler.step()``. Where torch refuses to go on (OneCycleLR raises when
stepped past ``total_steps``), the reference holds the cycle's last rate: torch's step to
``last_epoch = total_steps`` computes a value beyond the cycle, which its next step refuses.
"""

import numpy as np
import pytest
import torch

from core.engine.race import Race
from core.engine.schedulers import SCHEDULERS, RunShape, SchedulerSpec, parse_scheduler
from core.engine.surfaces import get_surface
from core.engine.training import EpochEnd, TrainConfig, TrainingEngine

#: the formulas the registry's defaults use, as Python (IEEE + * / give the same bits as torch)
LAMBDAS = {
    "1 / (1 + 0.1 * epoch)": lambda e: 1 / (1 + 0.1 * e),
    "0.99": lambda e: 0.99,
}
NAMES = [info.name for info in SCHEDULERS.values()]


def torch_scheduler(optimizer, spec: SchedulerSpec, kwargs: dict):
    cls = getattr(torch.optim.lr_scheduler, spec.name)
    args = dict(kwargs)
    if "schedulers" in args:
        parts = [torch_scheduler(optimizer, p, kw) for p, kw in args.pop("schedulers")]
        if spec.name == "ChainedScheduler":
            return cls(parts, optimizer=optimizer)
        return cls(optimizer, parts, **args)
    if "lr_lambda" in args:
        args["lr_lambda"] = LAMBDAS[args["lr_lambda"]]
    return cls(optimizer, **args)


class BareLoop:
    """The lr each step of a bare loop uses (``used``), stepping the torch scheduler."""

    def __init__(self, spec, kwargs, optimizer):
        self.spec, self.kwargs, self.optimizer = spec, kwargs, optimizer
        self.sched = torch_scheduler(optimizer, spec, kwargs)
        self.used: list[float] = []
        self.ended_at: int | None = None

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def step_scheduler(self, loss=None) -> None:
        if self.ended_at is not None:
            return
        try:
            if self.spec.name == "ReduceLROnPlateau":
                self.sched.step(loss)
            else:
                self.sched.step()
        except ValueError:  # torch refuses to step past the end
            assert self.spec.name == "OneCycleLR"
            self.ended_at = self.sched.last_epoch

    def reference(self) -> list[float]:
        """``used``, with the steps from torch's refusal on holding the cycle's last rate."""
        if self.ended_at is None:
            return self.used
        end = self.kwargs["total_steps"]
        return self.used[:end] + [self.used[end - 1]] * (len(self.used) - end)


def explicit(spec: SchedulerSpec, kwargs: dict) -> str:
    """A SPEC with every argument written out (for a run longer than its defaults assume)."""
    items = []
    for k, v in kwargs.items():
        if k == "schedulers":
            items.append("schedulers=[" + ", ".join(explicit(p, kw) for p, kw in v) + "]")
        elif k not in spec.info.fixed:
            items.append(f"{k}={v!r}")
    return f"{spec.name}({', '.join(items)})"


@pytest.mark.parametrize("name", NAMES)
def test_race_lr_per_step_equals_a_bare_torch_loop_for_three_times_the_horizon(name):
    horizon, lr = 30, 0.01
    spec = parse_scheduler(name)
    race = Race("bowl", start=(1.0, -0.5), horizon=horizon)
    runner = race.add(f"SGD(lr={lr})", scheduler=spec)
    race.step(3 * horizon)
    assert runner.steps == 3 * horizon

    f = get_surface("bowl").fn
    p = torch.nn.Parameter(torch.tensor((1.0, -0.5), dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    loop = BareLoop(spec, spec.resolved(RunShape(horizon, 1, lr)), opt)
    for _ in range(3 * horizon):
        loop.used.append(loop.lr())
        opt.zero_grad()
        f(p).backward()
        opt.step()
        with torch.no_grad():
            loop.step_scheduler(f(p).item())
    steps, lrs = runner.lr_series()
    assert steps.tolist() == list(range(3 * horizon + 1))
    assert lrs[:-1].tolist() == loop.reference()
    if loop.ended_at is None:  # else the bare loop used torch's value past the end once
        assert runner.point == tuple(p.detach().tolist())


@pytest.mark.parametrize("name", NAMES)
def test_training_lr_per_batch_equals_a_bare_torch_loop_for_three_times_its_length(name):
    """Arguments resolved for a 2-epoch run, the engine runs 6 epochs (10 batches each)."""
    epochs, per_epoch, lr = 2, 10, 0.05
    spec = parse_scheduler(name)
    kwargs = spec.resolved(RunShape(epochs, per_epoch, lr))
    config = TrainConfig(
        samples=400,
        epochs=3 * epochs,
        batch_size=32,
        device="cpu",
        seed=0,
        optimizers=f"SGD(lr={lr})",
        scheduler=explicit(spec, kwargs),
    )
    engine = TrainingEngine(config)
    assert engine.batches_per_epoch == per_epoch
    assert engine.run() == "finished"
    update = engine.drain()
    got = update.curves[0].lrs.tolist()
    val_losses = [e.val_loss for e in update.events if isinstance(e, EpochEnd)]

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    loop = BareLoop(spec, kwargs, opt)
    per_batch = spec.interval == "batch"
    for epoch in range(3 * epochs):
        for _ in range(per_epoch):
            loop.used.append(loop.lr())
            opt.step()
            if per_batch:
                loop.step_scheduler()
        if not per_batch:
            loop.step_scheduler(val_losses[epoch])
    assert got == loop.reference()


def onecycle_race(spec_text: str, steps: int) -> np.ndarray:
    race = Race("bowl", start=(1.0, 1.0), horizon=100)
    runner = race.add("SGD(lr=0.01)", scheduler=spec_text)
    race.step(steps)
    return runner.lr_series()[1]


def test_onecycle_holds_its_final_rate_after_the_cycle():
    """Issue 14 item 1: default OneCycleLR with SGD(lr=0.01) ends at 0.01 / 25 / 1e4 = 4e-08."""
    lrs = onecycle_race("OneCycleLR", 300)
    assert lrs[99] == pytest.approx(4e-08, rel=1e-9)  # the lr the cycle's last step uses
    assert np.all(lrs[99:] == lrs[99])  # ...and every step after it


def test_onecycle_three_phase_linear_never_goes_negative():
    lrs = onecycle_race("OneCycleLR(anneal_strategy='linear', three_phase=True)", 300)
    assert lrs.min() > 0
    assert np.all(lrs[99:] == lrs[99])


def test_the_schedule_says_when_it_holds():
    race = Race("bowl", start=(1.0, 1.0), horizon=10)
    runner = race.add("SGD(lr=0.01)", scheduler="OneCycleLR")
    race.step(9)
    assert runner.schedule.end == 10 and runner.schedule.held  # step 10 uses the last rate
    steady = race.add("SGD(lr=0.01)", scheduler="CyclicLR")
    race.step(50)
    assert steady.schedule.end is None and not steady.schedule.held


def test_every_torch_lr_scheduler_is_registered():
    """The README says every torch.optim.lr_scheduler: the registry must keep up with torch."""
    import inspect

    mod = torch.optim.lr_scheduler
    classes = {
        name
        for name, cls in vars(mod).items()
        if inspect.isclass(cls)
        and issubclass(cls, mod.LRScheduler)
        and cls is not mod.LRScheduler
        and not name.startswith("_")
    }
    assert classes == {info.name for info in SCHEDULERS.values()}


@pytest.mark.parametrize(
    "text",
    [
        "SequentialLR(schedulers=[ConstantLR(factor=0.5, total_iters=3), ExponentialLR(gamma=0.9)],"
        " milestones=[6])",
        "ChainedScheduler",
        "LambdaLR",
        "MultiplicativeLR",
        "PolynomialLR(total_iters=30)",
    ],
)
def test_a_live_lr_change_scales_every_new_schedule_from_there(text):
    """The project's rule (core.engine.schedulers): lr new/old scales the whole schedule."""

    def lrs(change: bool) -> np.ndarray:
        race = Race("bowl", start=(1.0, 1.0), horizon=20)
        runner = race.add("SGD(lr=0.01)", scheduler=text)
        race.step(4)
        if change:
            race.set_hparams(runner, lr=2 * runner.lr)
        race.step(16)
        return runner.lr_series()[1]

    reference, changed = lrs(False), lrs(True)
    assert np.array_equal(changed[:4], reference[:4])
    np.testing.assert_allclose(changed[4:], 2 * reference[4:], rtol=1e-12)
