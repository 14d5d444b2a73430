"""The anatomy picture is read from real torch state: the rows it prints (step size, what it
multiplies, decay) combine to the update torch applied, checked against a bare torch loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.engine.optimizers import parse_spec
from core.engine.race import Race, plain_state
from core.teach.anatomy import (
    GRADIENT,
    KEEP_HIGH,
    STEP,
    TARGET,
    factor_text,
    fit_factor,
    fmt,
    gradient_picture,
    nice_floor,
    nice_near,
    picture,
    recorded_picture,
)


def run(spec: str, steps: int = 5, surface: str = "rosenbrock"):
    race = Race(surface)
    r = race.add(spec)
    race.step(steps - 1)
    race.step(1, anatomy=True)
    a = r.anatomy
    assert a is not None and not a.diverged
    return r, a


def step_size(r, a):
    """The picture's per-coordinate step size and its formula (None, "" if it has none)."""
    p = recorded_picture(r, a)
    return p.step_size, p.step_size_formula


def bc1(r, a) -> float:
    beta1 = r.spec.hparams()["betas"][0]
    return 1.0 - beta1 ** a.state["step"]


@pytest.mark.parametrize(
    "spec", ["Adam(lr=0.02)", "AdamW(lr=0.02, weight_decay=0)", "Adam(lr=0.02, amsgrad=True)"]
)
def test_adam_step_size_times_first_moment_is_the_update(spec: str) -> None:
    r, a = run(spec)
    size, formula = step_size(r, a)
    assert formula == "lr/(√(v/(1−β2^t))+ε)"
    m_hat = a.state["exp_avg"] / bc1(r, a)
    np.testing.assert_allclose(a.update, -size * m_hat, rtol=1e-9)


def test_radam_step_size_before_and_after_rectification() -> None:
    r, a = run("RAdam(lr=1e-4)", steps=3)
    size, formula = step_size(r, a)
    assert "not yet reliable" in formula
    np.testing.assert_allclose(a.update, -size * a.state["exp_avg"] / bc1(r, a), rtol=1e-9)
    r, a = run("RAdam(lr=1e-4)", steps=12)
    size, formula = step_size(r, a)
    assert formula == "lr·r·√(1−β2^t)/(√v+ε)"
    np.testing.assert_allclose(a.update, -size * a.state["exp_avg"] / bc1(r, a), rtol=1e-6)


def test_adamax_step_size() -> None:
    r, a = run("Adamax(lr=0.05)")
    size, _ = step_size(r, a)
    np.testing.assert_allclose(a.update, -size * a.state["exp_avg"] / bc1(r, a), rtol=1e-9)


@pytest.mark.parametrize(
    "spec",
    [
        "RMSprop(lr=0.01)",
        "RMSprop(lr=0.01, centered=True)",
        "Adagrad(lr=0.1)",
        "Adagrad(lr=0.1, lr_decay=0.5)",
        "Adadelta(lr=1.0)",
    ],
)
def test_gradient_scaling_optimizers(spec: str) -> None:
    r, a = run(spec)
    size, formula = step_size(r, a)
    assert formula
    np.testing.assert_allclose(a.update, -size * a.gradient, rtol=1e-7)


def test_rprop_step_sizes_are_its_state() -> None:
    r, a = run("Rprop(lr=0.01)", steps=1)
    size, _ = step_size(r, a)
    np.testing.assert_allclose(a.update, -np.sign(a.gradient) * size, rtol=1e-12)
    p = recorded_picture(r, a)
    assert [e.family for e in p.extents] == [STEP]


def test_plain_optimizers_have_no_step_size() -> None:
    for spec in ("SGD(lr=0.001)", "SGD(lr=0.001, momentum=0.9)", "LBFGS(lr=0.5)", "ASGD"):
        r, a = run(spec, steps=2)
        assert step_size(r, a) == (None, "")


def test_sgd_pictures() -> None:
    r, a = run("SGD(lr=0.001)")
    p = recorded_picture(r, a)
    assert p.keys() == ("gradient", "update")
    # plain SGD: the update is -lr * gradient, i.e. lr times the drawn downhill arrow
    grad_arrow, upd_arrow = p.arrows
    np.testing.assert_allclose(upd_arrow.vector, a.lr * grad_arrow.vector, rtol=1e-12)
    assert (grad_arrow.family, upd_arrow.family) == (GRADIENT, STEP)
    r, a = run("SGD(lr=0.001, momentum=0.9)")
    p = recorded_picture(r, a)
    assert p.keys() == ("gradient", "update", "momentum")
    np.testing.assert_allclose(p.arrows[2].vector, -a.state["momentum_buffer"])
    np.testing.assert_allclose(a.update, a.lr * p.arrows[2].vector, rtol=1e-12)  # -lr * buf


def test_adam_picture_lists_its_state() -> None:
    r, a = run("Adam(lr=0.02)")
    p = recorded_picture(r, a)
    assert p.keys() == ("gradient", "update", "first_moment", "rms")
    rms = p.extents[0]
    t = a.state["step"]
    np.testing.assert_allclose(rms.half, np.sqrt(a.state["exp_avg_sq"] / (1 - 0.999**t)))
    names = [name for name, _ in p.lines]
    assert "m = exp_avg" in names and "v = exp_avg_sq" in names
    assert "step size" in names
    np.testing.assert_allclose(p.origin, a.point_before)


@pytest.mark.parametrize(
    ("spec", "keys"),
    [
        ("RMSprop(lr=0.01, centered=True, momentum=0.5)", ("mean_gradient", "rms")),
        ("Adagrad(lr=0.1)", ("rms",)),
        ("Adadelta", ("rms",)),
        ("Adamax", ("first_moment", "max")),
        ("NAdam", ("first_moment", "rms")),
    ],
)
def test_each_optimizer_draws_only_what_its_state_has(spec: str, keys: tuple) -> None:
    r, a = run(spec)
    p = recorded_picture(r, a)
    assert p.keys() == ("gradient", "update", *keys)
    for arrow in p.arrows:
        assert np.all(np.isfinite(arrow.vector))
    for ext in p.extents:
        assert np.all(ext.half >= 0)


def test_gradient_picture() -> None:
    p = gradient_picture((1.0, 2.0), (3.0, -4.0), 5.0)
    assert p.keys() == ("gradient",)
    np.testing.assert_allclose(p.arrows[0].vector, [-3.0, 4.0])
    assert dict(p.lines)["f"] == "5"


def test_nice_floor_and_text() -> None:
    assert nice_floor(0.0037) == pytest.approx(0.002)
    assert nice_floor(7.0) == 5.0
    assert nice_floor(1.0) == 1.0
    assert nice_floor(19.99) == 10.0
    assert nice_near(0.49) == 0.5 and nice_near(0.3) == 0.2 and nice_near(3.3) == 5.0
    assert nice_near(0.0037) == 0.005 and nice_near(1.0) == 1.0
    for x in np.geomspace(1e-6, 1e6, 97):
        assert 1 / 1.6 <= nice_near(x) / x <= 1.6
    assert factor_text(1.0) == "true size" and factor_text(0.002) == "× 0.002"
    assert fmt(-0.5) == "−0.5"


def test_fit_factor_targets_the_longest_arrow_and_is_sticky() -> None:
    view = (4.0, 4.0)
    f = fit_factor([np.array([150.0, 50.0]), np.array([10.0, 0.0])], [], view)
    longest = math.hypot(150 * f / 4, 50 * f / 4)
    assert TARGET / 1.6 < longest <= TARGET * 1.6
    # still fits: kept, even if a fresh choice would differ
    assert fit_factor([np.array([120.0, 40.0])], [], view, current=f) == f
    # far too long now: re-chosen
    g = fit_factor([np.array([1500.0, 500.0])], [], view, current=f)
    assert g < f and math.hypot(1500 * g / 4, 500 * g / 4) <= KEEP_HIGH
    # a big extent limits the factor
    h = fit_factor([np.array([1.0, 0.0])], [np.array([100.0, 1.0])], view)
    assert h * 100 / 4 <= 0.5
    # steps are never drawn shorter than they are
    assert fit_factor([np.array([10.0, 0.0])], [], view, minimum=1.0) == 1.0
    assert fit_factor([np.array([0.001, 0.0])], [], view, minimum=1.0) > 100
    # nothing finite: keep what there is
    assert fit_factor([np.array([math.nan, 0.0])], [], view, current=3.0) == 3.0
    assert fit_factor([], [], (0.0, 1.0), current=None) is None


# -- the printed rows multiply out to what torch did -----------------------------------------


def bowl(p: torch.Tensor) -> torch.Tensor:
    """A curved valley (a gentle Rosenbrock), written here so the reference owes nothing to
    gdsim's surfaces."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 10 * (y - x * x) ** 2


def torch_step(spec: str, steps: int):
    """A bare torch loop of ``steps`` steps from (−1, 0.5); the last step's picture (built
    from torch's state) and the update torch applied (p after − p before ``step()``)."""
    parsed = parse_spec(spec)
    p = torch.nn.Parameter(torch.tensor([-1.0, 0.5], dtype=torch.float64))
    opt = getattr(torch.optim, parsed.name)([p], **parsed.kwargs)

    def closure():
        opt.zero_grad()
        loss = bowl(p)
        loss.backward()
        return loss

    for _ in range(steps):
        before_state = plain_state(dict(opt.state[p]))
        loss = closure()
        grad = p.grad.detach().clone().numpy()
        before = p.detach().clone().numpy()
        opt.step(closure) if parsed.name == "LBFGS" else opt.step()
        after = p.detach().clone().numpy()
    update = after - before
    assert np.all(np.isfinite(update)) and np.any(update != 0)
    picture_ = picture(
        parsed.name,
        parsed.hparams(),
        point=before,
        gradient=grad,
        update=update,
        state=plain_state(dict(opt.state[p])),
        state_before=before_state,
        lr=opt.param_groups[0]["lr"],
        loss_before=loss.item(),
        loss_after=bowl(p).item(),
        step=steps,
    )
    return picture_, update


def number(text: str) -> np.ndarray:
    """A printed number or pair, as the panel shows it (real minus signs)."""
    values = [float(v) for v in text.replace("−", "-").strip("()").split(",")]
    return np.array(values * (2 // len(values)))


def row(lines, name: str) -> np.ndarray:
    """The value of the printed row ``name`` (or of the state row ``name = torch_name``)."""
    hits = [v for n, v in lines if n == name or n.startswith(f"{name} = ")]
    assert len(hits) == 1, (name, lines)
    return number(hits[0])


PRINTED_RULES = [
    ("SGD(lr=0.01)", 5),
    ("SGD(lr=0.01, momentum=0.9)", 5),
    ("SGD(lr=0.01, momentum=0.9, nesterov=True)", 5),
    ("SGD(lr=0.01, momentum=0.9, dampening=0.5, weight_decay=0.1)", 5),
    ("Adam(lr=0.02)", 1),
    ("Adam(lr=0.02)", 5),
    ("Adam(lr=0.02, amsgrad=True)", 5),
    ("Adam(lr=0.02, weight_decay=0.1)", 5),
    ("Adam(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)", 5),
    ("AdamW(lr=0.02)", 5),
    ("AdamW(lr=0.02, weight_decay=0.1, amsgrad=True)", 5),
    ("NAdam(lr=0.02)", 5),
    ("NAdam(lr=0.02, weight_decay=0.1)", 5),
    ("NAdam(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)", 5),
    ("RAdam(lr=0.01)", 3),
    ("RAdam(lr=0.01)", 12),
    ("RAdam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)", 12),
    ("Adamax(lr=0.05)", 5),
    ("Adamax(lr=0.05, weight_decay=0.1)", 5),
    ("RMSprop(lr=0.01)", 5),
    ("RMSprop(lr=0.01, centered=True)", 5),
    ("RMSprop(lr=0.01, momentum=0.5)", 5),
    ("RMSprop(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)", 5),
    ("Adagrad(lr=0.1)", 5),
    ("Adagrad(lr=0.1, lr_decay=0.5, weight_decay=0.1, initial_accumulator_value=0.5)", 5),
    ("Adadelta(lr=1.0)", 1),
    ("Adadelta(lr=1.0, weight_decay=0.1)", 5),
    ("Rprop(lr=0.01)", 1),
    ("Rprop(lr=0.01)", 8),
    ("Rprop(lr=0.1)", 3),  # y's gradient changes sign: that coordinate rests
    ("ASGD(lr=0.01)", 5),
    ("ASGD(lr=0.01, lambd=0.1, weight_decay=0.1)", 5),
    ("Adafactor(lr=0.01)", 5),
    ("Adafactor(lr=0.01, weight_decay=0.1)", 5),
]


@pytest.mark.parametrize(("spec", "steps"), PRINTED_RULES)
def test_printed_rows_multiply_out_to_the_update_torch_applied(spec: str, steps: int) -> None:
    p, update = torch_step(spec, steps)
    assert p.terms, "no rule printed"
    # the numbers behind the rows, at full precision
    exact = -sum(t.size * t.along for t in p.terms)
    np.testing.assert_allclose(exact, update, rtol=1e-9, atol=1e-15)
    # the rows as printed (4 significant digits): each factor is there, and they combine
    lines = p.lines
    total = np.zeros(2)
    scale = np.zeros(2)
    for t in p.terms:
        part = row(lines, t.size_name) * row(lines, t.along_name)
        total -= part
        scale += np.abs(part)
    np.testing.assert_allclose(total, update, rtol=0, atol=float(np.max(scale)) * 2e-3)
    rule = [v for n, v in lines if v.startswith("update = ")]
    assert len(rule) == 1 and all(f"{t.size_name}·{t.along_name}" in rule[0] for t in p.terms)


def test_adam_prints_bias_corrected_moment_and_amsgrad_names_what_it_divides_by() -> None:
    p, update = torch_step("Adam(lr=0.02)", 1)
    names = [n for n, _v in p.lines]
    assert "m_hat" in names and "m = exp_avg" in names and "v = exp_avg_sq" in names
    # at t=1 the raw m is 0.1 of m_hat: size·m would be a tenth of the update
    np.testing.assert_allclose(row(p.lines, "m_hat"), 10 * row(p.lines, "m"), rtol=2e-3)
    p, _ = torch_step("Adam(lr=0.02, amsgrad=True)", 5)
    names = [n for n, _v in p.lines]
    assert "v = max_exp_avg_sq" in names and "exp_avg_sq" in names
    assert "v = exp_avg_sq" not in names and ("", "= lr/(√(v/(1−β2^t))+ε)") in p.lines


def test_lbfgs_prints_no_rule_it_cannot_show() -> None:
    p, _ = torch_step("LBFGS(lr=0.5)", 2)
    assert p.terms == () and not any(v.startswith("update = ") for _n, v in p.lines)
