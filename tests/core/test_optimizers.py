"""Tests for core.engine.optimizers: registry, SPEC parsing, live changes, and -- the key test -- every
optimizer's trajectory against its *published* update rule, hand-computed with numpy floats.

The references below are written from the papers / the torch documentation's pseudo-code, not
from torch's source, and never call torch. They run on a small Rosenbrock-like valley
f(x, y) = (1 - x)^2 + 5 (y - x^2)^2 with an analytic gradient, from (-1.2, 1.0), with
non-default hyperparameters wherever they change the rule.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.engine.optimizers import (
    LEFT_OUT,
    OPTIMIZERS,
    HParam,
    OptimizerSpec,
    apply_hparams,
    get_optimizer,
    optimizer_names,
    parse_call,
    parse_spec,
    register_optimizer,
    validate_hparams,
)
from core.errors import GdsimError

START = (-1.2, 1.0)
RTOL = 1e-10
ATOL = 1e-12


def f_torch(p: torch.Tensor) -> torch.Tensor:
    x, y = p[..., 0], p[..., 1]
    return ((1 - x) ** 2 + 5 * (y - x**2) ** 2).sum()


def grad(th: np.ndarray) -> np.ndarray:
    x, y = th
    return np.array([-2.0 * (1 - x) - 20.0 * x * (y - x * x), 10.0 * (y - x * x)])


def run_torch(name: str, kwargs: dict, steps: int, start=START):
    """Step the registry-built torch optimizer; return (points after each step, optimizer, p)."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = OptimizerSpec(get_optimizer(name), kwargs).build([p])

    def closure():
        opt.zero_grad()
        loss = f_torch(p)
        loss.backward()
        return loss

    points = []
    for _ in range(steps):
        opt.step(closure)
        points.append(p.detach().numpy().copy())
    return np.array(points), opt, p


@pytest.fixture
def float64_scalars():
    """torch keeps some scalar optimizer state (NAdam's mu_product, ASGD's eta and mu) in the
    default dtype, float32, which limits agreement to ~1e-8 however exact the rule is. With a
    float64 default those scalars are float64 and the rule can be checked to 1e-10."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def assert_same(torch_points, ref_points):
    ref = np.array(ref_points)
    assert np.all(np.isfinite(ref))
    assert np.abs(ref[-1] - np.array(START)).max() > 1e-3, "reference did not move: weak test"
    np.testing.assert_allclose(torch_points, ref, rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------------------------
# Published update rules, in plain numpy
# --------------------------------------------------------------------------------------------


def ref_sgd(steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    th, b, out = np.array(START), None, []
    for t in range(1, steps + 1):
        g = grad(th)
        if weight_decay:
            g = g + weight_decay * th
        if momentum:
            b = g.copy() if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        th = th - lr * g
        out.append(th)
    return out


def decayed(th, lr, weight_decay, decoupled):
    """The point and gradient after weight decay: shrink theta (decoupled, AdamW-style) or add
    weight_decay*theta to the gradient (L2)."""
    g = grad(th)
    if weight_decay:
        if decoupled:
            th = th - lr * weight_decay * th
        else:
            g = g + weight_decay * th
    return th, g


def ref_adam(steps, lr, betas, eps, weight_decay=0.0, amsgrad=False, decoupled=False):
    """Kingma & Ba (2015) Alg. 1; AMSGrad (Reddi et al. 2018); decoupled = AdamW (Loshchilov &
    Hutter 2019), following torch's documented pseudo-code."""
    b1, b2 = betas
    th = np.array(START)
    m, v, vmax, out = np.zeros(2), np.zeros(2), np.zeros(2), []
    for t in range(1, steps + 1):
        th, g = decayed(th, lr, weight_decay, decoupled)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            v_hat = vmax / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        th = th - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(th)
    return out


def ref_adagrad(steps, lr, lr_decay, weight_decay, initial_accumulator_value, eps):
    th, out = np.array(START), []
    s = np.full(2, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = grad(th)
        clr = lr / (1 + (t - 1) * lr_decay)
        if weight_decay:
            g = g + weight_decay * th
        s = s + g * g
        th = th - clr * g / (np.sqrt(s) + eps)
        out.append(th)
    return out


def ref_adadelta(steps, lr, rho, eps, weight_decay):
    """Zeiler (2012) Alg. 1, with torch's lr multiplier and L2 term."""
    th, v, u, out = np.array(START), np.zeros(2), np.zeros(2), []
    for _ in range(steps):
        g = grad(th)
        if weight_decay:
            g = g + weight_decay * th
        v = rho * v + (1 - rho) * g * g
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx * dx
        th = th - lr * dx
        out.append(th)
    return out


def ref_adamax(steps, lr, betas, eps, weight_decay):
    """Kingma & Ba (2015) Alg. 2 (eps added to |g| as in torch's documentation)."""
    b1, b2 = betas
    th, m, u, out = np.array(START), np.zeros(2), np.zeros(2), []
    for t in range(1, steps + 1):
        g = grad(th)
        if weight_decay:
            g = g + weight_decay * th
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        th = th - lr * m / ((1 - b1**t) * u)
        out.append(th)
    return out


def ref_nadam(steps, lr, betas, eps, weight_decay, momentum_decay, decoupled=False):
    """Dozat (2016) with the momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi))."""
    b1, b2 = betas
    th, m, v, out = np.array(START), np.zeros(2), np.zeros(2), []

    def mu(t):
        return b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))

    for t in range(1, steps + 1):
        th, g = decayed(th, lr, weight_decay, decoupled)
        prod_t = math.prod(mu(i) for i in range(1, t + 1))
        prod_next = prod_t * mu(t + 1)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = mu(t + 1) * m / (1 - prod_next) + (1 - mu(t)) * g / (1 - prod_t)
        v_hat = v / (1 - b2**t)
        th = th - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(th)
    return out


def ref_radam(steps, lr, betas, eps, weight_decay, decoupled=False):
    """Liu et al. (2020) Alg. 2: un-rectified momentum steps while rho_t <= 5. Returns the points
    and which branch each step took."""
    b1, b2 = betas
    th, m, v = np.array(START), np.zeros(2), np.zeros(2)
    rho_inf = 2 / (1 - b2) - 1
    points, branches = [], []
    for t in range(1, steps + 1):
        th, g = decayed(th, lr, weight_decay, decoupled)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            l_t = math.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r_t = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            th = th - lr * m_hat * r_t * l_t
            branches.append("rectified")
        else:
            th = th - lr * m_hat
            branches.append("plain")
        points.append(th)
    return points, branches


def ref_rmsprop(steps, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
    """Hinton (2012, lecture 6e); centered form from Graves (2013); momentum on the scaled step."""
    th, v, g_avg, b, out = np.array(START), np.zeros(2), np.zeros(2), np.zeros(2), []
    for _ in range(steps):
        g = grad(th)
        if weight_decay:
            g = g + weight_decay * th
        v = alpha * v + (1 - alpha) * g * g
        v_tilde = v
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            v_tilde = v_tilde - g_avg**2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            th = th - lr * b
        else:
            th = th - lr * g / (np.sqrt(v_tilde) + eps)
        out.append(th)
    return out


def ref_rprop(steps, lr, etas, step_sizes):
    """Riedmiller & Braun (1993), the iRprop- variant torch documents: on a sign flip the step
    shrinks and that coordinate does not move. Returns points and which rules fired."""
    eta_minus, eta_plus = etas
    smin, smax = step_sizes
    th, prev, eta = np.array(START), np.zeros(2), np.full(2, lr)
    points, fired = [], set()
    for _ in range(steps):
        g = grad(th)
        for i in range(2):
            if prev[i] * g[i] > 0:
                eta[i] = min(eta[i] * eta_plus, smax)
                fired.add("grow" if eta[i] < smax else "clamp_max")
            elif prev[i] * g[i] < 0:
                eta[i] = max(eta[i] * eta_minus, smin)
                fired.add("shrink" if eta[i] > smin else "clamp_min")
                g[i] = 0.0
        th = th - eta * np.sign(g)
        prev = g
        points.append(th)
    return points, fired


def ref_asgd(steps, lr, lambd, alpha, t0, weight_decay, lr_at=None):
    """Averaged SGD (Polyak & Juditsky 1992) with Bottou's (2012) decaying step
    eta_t = lr / (1 + lambd lr t)^alpha and averaging rate mu_t = 1 / max(1, t - t0); eta_0 = lr,
    mu_0 = 1. ``lr_at`` maps a step number to a new lr set just before that step."""
    th = np.array(START)
    ax, eta, mu, points = np.zeros(2), lr, 1.0, []
    for t in range(1, steps + 1):
        if lr_at and t in lr_at:
            lr = lr_at[t]
            eta = lr / (1 + lambd * lr * (t - 1)) ** alpha
        g = grad(th)
        if weight_decay:
            g = g + weight_decay * th
        th = th * (1 - lambd * eta) - eta * g
        ax = ax + mu * (th - ax)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)
        points.append(th)
    return points, ax, eta, mu


def ref_lbfgs(steps, lr, history_size):
    """L-BFGS (Liu & Nocedal 1989; Nocedal & Wright Alg. 7.4 two-loop recursion) with one
    iteration per step and no line search: the first step is -g scaled by min(1, 1/|g|_1) * lr,
    later steps lr along the two-loop direction with H0 = s.y / y.y; a pair is stored only when
    its curvature s.y > 1e-10, and the oldest pair is dropped beyond history_size."""
    th, out = np.array(START), []
    S, Y = [], []
    H0 = 1.0
    g_prev = d = step = None
    for k in range(steps):
        g = grad(th)
        if k == 0:
            d = -g
        else:
            y, s = g - g_prev, d * step
            if y @ s > 1e-10:
                if len(S) == history_size:
                    S.pop(0)
                    Y.pop(0)
                S.append(s)
                Y.append(y)
                H0 = (y @ s) / (y @ y)
            q = -g
            alphas = []
            for s_i, y_i in reversed(list(zip(S, Y, strict=True))):
                a = (s_i @ q) / (y_i @ s_i)
                alphas.append(a)
                q = q - a * y_i
            r = H0 * q
            for (s_i, y_i), a in zip(zip(S, Y, strict=True), reversed(alphas), strict=True):
                beta = (y_i @ r) / (y_i @ s_i)
                r = r + s_i * (a - beta)
            d = r
        step = min(1.0, 1.0 / np.abs(g).sum()) * lr if k == 0 else lr
        assert g @ d < -1e-9, "not a descent direction: LBFGS would stop; pick another setup"
        th = th + step * d
        g_prev = g
        out.append(th)
    return out, len(S)


def ref_adafactor(steps, lr, beta2_decay, eps, d, weight_decay):
    """Shazeer & Stern (2018) for a vector parameter, as torch documents it: relative step
    rho_t = min(lr, 1/sqrt(t)), scaled by max(eps2, RMS(theta)); update clipped to RMS d."""
    eps1, eps2 = eps
    if eps1 is None:
        eps1 = np.finfo(np.float64).eps
    th, V, points, clipped = np.array(START), np.zeros(2), [], False

    def rms(a):
        return math.sqrt(float(np.mean(a * a)))

    for t in range(1, steps + 1):
        g = grad(th)
        beta2_t = 1 - t**beta2_decay
        rho_t = min(lr, 1 / math.sqrt(t))
        alpha_t = max(eps2, rms(th)) * rho_t
        th = th - lr * weight_decay * th
        V = beta2_t * V + (1 - beta2_t) * g * g
        U = g / np.maximum(np.sqrt(V), eps1)
        clipped |= rms(U) / d > 1
        U_hat = U / max(1.0, rms(U) / d)
        th = th - alpha_t * U_hat
        points.append(th)
    return points, clipped


# --------------------------------------------------------------------------------------------
# The key test: torch (built from the registry) == the published rule
# --------------------------------------------------------------------------------------------

SGD_CASES = [
    dict(lr=0.02),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.8, nesterov=True),
    dict(lr=0.01, momentum=0.8, dampening=0.5, weight_decay=0.1),
]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_follows_published_rule(kw):
    points, _, _ = run_torch("SGD", kw, 8)
    assert_same(points, ref_sgd(8, **kw))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_follows_published_rule(amsgrad):
    kw = dict(lr=0.05, betas=(0.8, 0.5), eps=1e-6, weight_decay=0.1, amsgrad=amsgrad)
    points, _, _ = run_torch("Adam", kw, 10)
    assert_same(points, ref_adam(10, **kw))


def test_amsgrad_changes_the_trajectory_here():
    """Guards the test above: on this setup the running maximum actually matters."""
    kw = dict(lr=0.05, betas=(0.8, 0.5), eps=1e-6, weight_decay=0.1)
    plain = ref_adam(10, **kw)
    ams = ref_adam(10, amsgrad=True, **kw)
    assert np.abs(np.array(plain) - np.array(ams)).max() > 1e-3


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_follows_published_rule(amsgrad):
    kw = dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.5, amsgrad=amsgrad)
    points, _, _ = run_torch("AdamW", kw, 10)
    assert_same(points, ref_adam(10, decoupled=True, **kw))
    coupled = ref_adam(10, **kw)
    assert np.abs(np.array(coupled) - points).max() > 1e-4  # decoupling makes a difference


def test_adam_decoupled_weight_decay_is_adamw():
    kw = dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.5)
    points, _, _ = run_torch("Adam", {**kw, "decoupled_weight_decay": True}, 8)
    assert_same(points, ref_adam(8, decoupled=True, **kw))


def test_adagrad_follows_published_rule():
    kw = dict(lr=0.5, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-10)
    points, _, _ = run_torch("Adagrad", kw, 10)
    assert_same(points, ref_adagrad(10, **kw))


def test_adadelta_follows_published_rule():
    kw = dict(lr=2.0, rho=0.8, eps=1e-4, weight_decay=0.01)
    points, _, _ = run_torch("Adadelta", kw, 10)
    assert_same(points, ref_adadelta(10, **kw))


def test_adamax_follows_published_rule():
    kw = dict(lr=0.1, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.05)
    points, _, _ = run_torch("Adamax", kw, 10)
    assert_same(points, ref_adamax(10, **kw))


@pytest.mark.parametrize("decoupled", [False, True])
def test_nadam_follows_published_rule(decoupled, float64_scalars):
    kw = dict(lr=0.05, betas=(0.85, 0.95), eps=1e-8, weight_decay=0.1, momentum_decay=0.05)
    points, opt, p = run_torch("NAdam", {**kw, "decoupled_weight_decay": decoupled}, 10)
    assert_same(points, ref_nadam(10, decoupled=decoupled, **kw))
    mu = [0.85 * (1 - 0.5 * 0.96 ** (t * 0.05)) for t in range(1, 11)]
    assert float(opt.state[p]["mu_product"]) == pytest.approx(math.prod(mu), rel=1e-12)


@pytest.mark.parametrize("decoupled", [False, True])
def test_radam_follows_published_rule_in_both_branches(decoupled):
    kw = dict(lr=0.05, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.1)
    ref, branches = ref_radam(10, decoupled=decoupled, **kw)
    assert "plain" in branches and "rectified" in branches, branches
    assert branches[:5] == ["plain"] * 5  # rho_t <= 5 for t <= 5 when beta2 = 0.9
    points, _, _ = run_torch("RAdam", {**kw, "decoupled_weight_decay": decoupled}, 10)
    assert_same(points, ref)


RMSPROP_CASES = [
    dict(lr=0.01, alpha=0.9, eps=1e-8),
    dict(lr=0.01, alpha=0.9, eps=1e-8, centered=True),
    dict(lr=0.005, alpha=0.8, eps=1e-6, momentum=0.7, weight_decay=0.1, centered=True),
    dict(lr=0.005, alpha=0.8, eps=1e-6, momentum=0.7),
]


@pytest.mark.parametrize("kw", RMSPROP_CASES)
def test_rmsprop_follows_published_rule(kw):
    points, _, _ = run_torch("RMSprop", kw, 10)
    assert_same(points, ref_rmsprop(10, **kw))


def test_rprop_follows_published_rule_including_clamps():
    kw = dict(lr=0.05, etas=(0.4, 1.5), step_sizes=(0.02, 0.3))
    ref, fired = ref_rprop(14, **kw)
    assert fired >= {"grow", "clamp_max", "shrink", "clamp_min"}, fired
    points, _, _ = run_torch("Rprop", kw, 14)
    assert_same(points, ref)


def test_asgd_follows_published_rule_and_averages(float64_scalars):
    kw = dict(lr=0.05, lambd=0.1, alpha=0.6, t0=3.0, weight_decay=0.05)
    ref, ax, eta, mu = ref_asgd(9, **kw)
    points, opt, p = run_torch("ASGD", kw, 9)
    assert_same(points, ref)
    state = opt.state[p]
    np.testing.assert_allclose(state["ax"].numpy(), ax, rtol=RTOL, atol=ATOL)
    assert float(state["eta"]) == pytest.approx(eta, rel=1e-12)
    assert float(state["mu"]) == pytest.approx(mu, rel=1e-12)
    assert mu < 1  # averaging over several iterates actually happened


@pytest.mark.parametrize("history_size", [100, 2])
def test_lbfgs_follows_two_loop_recursion(history_size):
    ref, n_pairs = ref_lbfgs(6, lr=0.5, history_size=history_size)
    points, opt, p = run_torch("LBFGS", dict(lr=0.5, max_iter=1, history_size=history_size), 6)
    assert_same(points, ref)
    assert len(opt.state[p]["old_dirs"]) == n_pairs == min(5, history_size)


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=0.5, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.1),
        dict(lr=0.2, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=1.2, weight_decay=0.0),
    ],
)
def test_adafactor_follows_published_rule(kw):
    ref, clipped = ref_adafactor(8, **kw)
    points, _, _ = run_torch("Adafactor", kw, 8)
    assert_same(points, ref)
    if kw["d"] == 1.0:
        assert clipped  # the clipping branch was exercised


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

EXPECTED = [
    "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
    "Rprop", "ASGD", "LBFGS",
]  # fmt: skip
BUILTIN = [info for info in OPTIMIZERS.values() if info.import_path is None]


def test_every_dense_torch_optimizer_is_registered_in_display_order():
    names = optimizer_names()
    assert names[: len(EXPECTED)] == EXPECTED
    assert "Adafactor" in names  # also dense; torch >= 2.5
    torch_classes = {
        n for n in dir(torch.optim)
        if isinstance(getattr(torch.optim, n), type)
        and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)
    }  # fmt: skip
    not_offered = {"Optimizer", "SparseAdam", "Muon"}
    assert torch_classes - not_offered <= set(names), "a new torch optimizer is not registered"
    for name in not_offered & torch_classes:
        with pytest.raises(GdsimError, match="does not offer it"):
            get_optimizer(name)


@pytest.mark.parametrize("info", BUILTIN, ids=lambda i: i.name)
def test_defaults_equal_torch_signature(info):
    sig = inspect.signature(info.cls.__init__).parameters
    for hp in info.hparams:
        assert hp.default == sig[hp.name].default, hp.name
    exposed = {hp.name for hp in info.hparams}
    leftover = set(sig) - {"self", "params"} - exposed
    assert leftover <= LEFT_OUT, f"torch has new arguments to expose or leave out: {leftover}"
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    group = OptimizerSpec(info, {}).build([p]).param_groups[0]
    for hp in info.hparams:
        if hp.name != "max_eval":  # LBFGS resolves None to max_iter * 5 // 4
            assert group[hp.name] == hp.default, hp.name


@pytest.mark.parametrize("info", BUILTIN, ids=lambda i: i.name)
def test_hparams_describe_a_ui(info):
    assert info.hparams[0].name == "lr"
    assert info.elementwise == (info.name not in ("LBFGS", "Adafactor"))
    assert info.needs_closure == (info.name == "LBFGS")
    assert info.description and "\n" not in info.description
    for hp in info.hparams:
        assert hp.kind in ("float", "int", "bool", "pair", "choice")
        assert 10 < len(hp.help) <= 120 and "\n" not in hp.help, hp.name
        assert not hp.name.startswith("_") and hp.name not in LEFT_OUT
        assert hp.check(hp.default) == hp.default or hp.default is None
        if hp.kind in ("float", "int", "pair"):
            lo, hi = hp.slider_range()
            assert math.isfinite(lo) and math.isfinite(hi) and lo < hi, hp.name
            if hp.log:
                assert lo > 0, hp.name
            parts = hp.elements or (hp,)
            values = hp.default if hp.kind == "pair" else (hp.default,)
            for part, value in zip(parts, values, strict=True):
                if value is None:
                    continue
                plo, phi = part.slider_range()
                assert plo <= value <= phi, (hp.name, value)
                assert part.in_range(plo) or part.low == plo == 0, (hp.name, plo)
        if hp.kind == "choice":
            assert hp.default in hp.choices


@pytest.mark.parametrize("info", BUILTIN, ids=lambda i: i.name)
def test_elementwise_flag_is_truthful(info):
    """Elementwise optimizers step an (N, 2) swarm exactly as N separate points; the others
    do not (which is why the swarm falls back to separate instances for them)."""
    starts = [(-1.2, 1.0), (0.5, -0.3), (2.0, 2.5)]
    kw = {"lr": 0.05}
    if info.name == "LBFGS":
        kw = {"lr": 0.5, "max_iter": 1}
    if "weight_decay" in info.defaults():
        kw["weight_decay"] = 0.1
    swarm, _, _ = run_torch(info.name, kw, 4, start=starts)
    alone = np.stack([run_torch(info.name, kw, 4, start=s)[0] for s in starts], axis=1)
    if info.elementwise:
        np.testing.assert_allclose(swarm, alone, rtol=1e-12, atol=1e-14)
    else:
        assert np.abs(swarm - alone).max() > 1e-6


def test_get_optimizer_is_case_insensitive_and_suggests():
    assert get_optimizer("adam") is get_optimizer("ADAM") is OPTIMIZERS["adam"]
    assert get_optimizer(" sgd ").name == "SGD"
    with pytest.raises(GdsimError, match=r"unknown optimizer 'Adma'; did you mean Adam\?"):
        get_optimizer("Adma")
    with pytest.raises(GdsimError, match="known: SGD, Adam, AdamW"):
        get_optimizer("Zzzzzz")


# --------------------------------------------------------------------------------------------
# SPEC parsing
# --------------------------------------------------------------------------------------------


def test_spec_examples():
    spec = parse_spec("Adam(lr=0.01, betas=(0.9, 0.99))")
    assert spec.name == "Adam" and spec.kwargs == {"lr": 0.01, "betas": (0.9, 0.99)}
    assert str(spec) == "Adam(lr=0.01, betas=(0.9, 0.99))"
    hp = spec.hparams()
    assert hp == {
        "lr": 0.01,
        "betas": (0.9, 0.99),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
        "decoupled_weight_decay": False,
    }
    sgd = parse_spec("sgd(lr=0.001, momentum=0.9, nesterov=True)")
    assert str(sgd) == "SGD(momentum=0.9, nesterov=True)"  # lr=0.001 is SGD's default
    assert sgd.hparams()["lr"] == 0.001
    assert parse_spec("adam") == parse_spec("Adam()") == parse_spec("  ADAM ( ) ")
    assert parse_spec("torch.optim.Adam(lr=1)") == parse_spec("optim.adam(lr=1.0)")
    assert parse_spec("Adam(lr=1)").kwargs == {"lr": 1.0}
    assert isinstance(parse_spec("Adam(lr=1)").kwargs["lr"], float)
    assert parse_spec("Adam(betas=[0.8, 0.9])").kwargs["betas"] == (0.8, 0.9)
    assert str(parse_spec("Adam(weight_decay=0.1, lr=0.5)")) == "Adam(lr=0.5, weight_decay=0.1)"
    lbfgs = parse_spec("LBFGS(line_search_fn='strong_wolfe', max_iter=1, max_eval=None)")
    assert str(lbfgs) == "LBFGS(max_iter=1, line_search_fn='strong_wolfe')"
    assert parse_spec("Adafactor(eps=(None, 0.01))").hparams()["eps"] == (None, 0.01)


def test_spec_json_and_build():
    import json

    spec = parse_spec("Rprop(etas=(0.4, 1.5), step_sizes=(1e-3, 1))")
    json.dumps(spec.hparams(), allow_nan=False)
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = spec.build([p], foreach=False)
    assert isinstance(optimizer, torch.optim.Rprop)
    assert optimizer.param_groups[0]["etas"] == (0.4, 1.5)
    assert optimizer.param_groups[0]["step_sizes"] == (1e-3, 1.0)
    assert optimizer.param_groups[0]["foreach"] is False


ROUND_TRIP = [
    "SGD()",
    "SGD(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.0001)",
    "SGD(momentum=0.5, nesterov=True)",
    "Adam(lr=3e-4, betas=(0.5, 0.999), eps=1e-6, amsgrad=True)",
    "AdamW(weight_decay=0)",
    "RMSprop(alpha=0.9, centered=True, momentum=0.9)",
    "Adagrad(lr_decay=0.01, initial_accumulator_value=0.1)",
    "Adadelta(rho=0.95)",
    "NAdam(momentum_decay=0.01, decoupled_weight_decay=True, weight_decay=0.1)",
    "Rprop(etas=(0.3, 2), step_sizes=(1e-5, 1))",
    "ASGD(lambd=0.001, alpha=0.5, t0=100)",
    "LBFGS(lr=0.5, max_iter=3, max_eval=7, history_size=5, line_search_fn='strong_wolfe')",
    "Adafactor(beta2_decay=-0.5, eps=(1e-30, 0.01), d=2)",
    "Adam(lr=0.1234567890123)",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip(text):
    spec = parse_spec(text)
    again = parse_spec(str(spec))
    assert again == spec and hash(again) == hash(spec) and str(again) == str(spec)
    assert spec.with_changes() == spec
    changed = spec.with_changes(lr=0.125)
    assert changed.hparams()["lr"] == 0.125 and parse_spec(str(changed)) == changed


BAD_SPECS = [
    ("", "empty spec"),
    ("   ", "empty spec"),
    ("x" * 2001, "too long"),
    ("Adma", "unknown optimizer 'Adma'; did you mean Adam?"),
    ("Foo(lr=1)", "unknown optimizer 'Foo'; known: SGD, Adam"),
    ("SparseAdam", "sparse gradients"),
    (
        "Adam(momentum=0.9)",
        "Adam has no hyperparameter 'momentum'; it has lr, betas, eps, weight_decay, amsgrad",
    ),
    ("SGD(momentun=0.9)", "did you mean momentum?"),
    ("Adam(foreach=True)", "not a hyperparameter of Adam"),
    ("Adam(lr=-0.1)", "lr must be > 0, got -0.1"),
    ("Adam(lr=0)", "lr must be > 0, got 0.0"),
    ("Adam(betas=(1.0, 0.9))", "betas[0] must be in [0, 1), got 1.0"),
    ("Adam(betas=(0.9, -0.1))", "betas[1] must be in [0, 1), got -0.1"),
    ("Adam(betas=0.9)", "betas must be a pair like (0.9, 0.999), got 0.9"),
    ("Adam(betas=(0.9, 0.99, 0.999))", "betas must be a pair"),
    ("Adam(eps=0)", "eps must be > 0"),
    ("Adam(weight_decay=-1)", "weight_decay must be >= 0, got -1.0"),
    ("SGD(momentum=1.0)", "momentum must be in [0, 1), got 1.0"),
    ("Adam(lr=True)", "lr must be a number, got True"),
    ("Adam(lr='0.1')", "lr must be a number, got '0.1'"),
    ("Adam(amsgrad=1)", "amsgrad must be True or False, got 1"),
    ("Adam(lr=None)", "lr must not be None"),
    ("SGD(nesterov=True)", "nesterov=True needs momentum > 0 and dampening = 0"),
    ("SGD(nesterov=True, momentum=0.9, dampening=0.1)", "dampening=0.1"),
    ("Rprop(etas=(1.5, 2))", "etas[0] must be in (0, 1), got 1.5"),
    ("Rprop(etas=(0.5, 0.9))", "etas[1] must be > 1, got 0.9"),
    ("Rprop(step_sizes=(1, 0.5))", "step_sizes[0] (the minimum) must be <= step_sizes[1]"),
    ("Rprop(step_sizes=(0, 1))", "step_sizes[0] must be > 0, got 0.0"),
    ("LBFGS(max_iter=0)", "max_iter must be in [1, 1000], got 0"),
    ("LBFGS(max_iter=2.0)", "max_iter must be an integer, got 2.0"),
    ("LBFGS(history_size=True)", "history_size must be an integer, got True"),
    ("LBFGS(line_search_fn='wolfe')", "line_search_fn must be one of None, 'strong_wolfe'"),
    ("Adafactor(d=0.5)", "d must be >= 1, got 0.5"),
    ("Adafactor(beta2_decay=0.1)", "beta2_decay must be <= 0, got 0.1"),
    ("Adam(lr=1e999)", "lr at column 9: inf is not allowed"),
    ("Adam(betas=(0.9, -1e999))", "betas at column 12: -inf is not allowed"),
    ("Adam(lr=nan)", "'nan' is not allowed; values must be finite"),
    ("Adam(lr=float('nan'))", "lr at column 9: nested calls are not allowed"),
    ("Adam(0.1)", "positional argument at column 6 is not allowed"),
    ("Adam(*args)", "*-unpacking is not allowed (column 6)"),
    ("Adam(**kw)", "**-unpacking is not allowed (column 6)"),
    ("Adam(lr=0.1, lr=0.2)", "lr is given twice (column 14)"),
    ("os.system('rm -rf /')", "'os.system' is not allowed"),
    ("torch.nn.Adam()", "'torch.nn.Adam' is not allowed"),
    ("__import__('os').system('x')", "nested calls are not allowed"),
    ("Adam()()", "nested calls are not allowed"),
    ("Adam[0]", "expected a name or a call like Adam(lr=0.01)"),
    ("42", "expected a name or a call like Adam(lr=0.01)"),
    ("lambda: 0", "expected a name or a call like Adam(lr=0.01)"),
    ("Adam(lr=x)", "lr at column 9: 'x' is not a value"),
    ("Adam(amsgrad=true)", "did you mean True?"),
    ("Adam(lr=1/1000)", "expressions are not allowed"),
    ("Adam(lr=a.b)", "names are not values"),
    ("Adam(lr=[x for x in y])", "only plain values are allowed"),
    ("Adam(lr={'a': 1})", "dict values are not allowed"),
    ("Adam(lr=1j)", "complex values are not allowed"),
    ("Adam(lr=b'1')", "bytes values are not allowed"),
    ("Adam(lr=0.1", "syntax error at column 5: '(' was never closed"),
    ("Adam(lr=)", "syntax error at column"),
    ("  Adam(lr=0.1", "syntax error at column 7"),
    ("Adam lr", "syntax error"),
    ("Adam(\nlr=x)", "lr at line 2, column 4"),
    ("Adam(lr=0.1)\x00", "null bytes"),
    ("(" * 300, "syntax error"),
]


@pytest.mark.parametrize("text, message", BAD_SPECS)
def test_bad_specs_are_refused_with_one_line_naming_the_problem(text, message):
    with pytest.raises(GdsimError) as excinfo:
        parse_spec(text)
    text_of_error = str(excinfo.value)
    assert message in text_of_error
    assert "\n" not in text_of_error


def test_non_text_spec_is_refused():
    with pytest.raises(GdsimError, match="expected text"):
        parse_spec(3)  # type: ignore[arg-type]


def test_column_counts_characters_not_bytes():
    with pytest.raises(GdsimError, match="lr at column 9: 'x' is not a value"):
        parse_spec("Adäm(lr=x)")  # ä is two UTF-8 bytes, one character
    with pytest.raises(GdsimError, match="y at column 13: 'z' is not a value"):
        parse_spec("Adäm(x=1, y=z)")
    with pytest.raises(GdsimError, match="positional argument at column 6"):
        parse_spec("Adäm(1)")
    with pytest.raises(GdsimError, match=r"is given twice \(column 12\)"):
        parse_spec("Adäm(lr=1, lr=2)")


def test_parse_call_is_generic():
    assert parse_call("StepLR(step_size=10, gamma=0.5)") == (
        "StepLR",
        {"step_size": 10, "gamma": 0.5},
    )
    assert parse_call("MultiStepLR(milestones=[30, 80], gamma='x', v=None, b=-1)") == (
        "MultiStepLR",
        {"milestones": [30, 80], "gamma": "x", "v": None, "b": -1},
    )
    assert parse_call("lr_scheduler.StepLR", prefixes=("lr_scheduler",)) == ("StepLR", {})
    with pytest.raises(GdsimError, match="not allowed"):
        parse_call("lr_scheduler.StepLR")
    with pytest.raises(GdsimError, match=r"expected a name or a call like Name\(arg=value\)"):
        parse_call("1 + 2")


def test_validate_hparams():
    info = get_optimizer("SGD")
    assert validate_hparams(info, {"lr": 1, "nesterov": False}) == {"lr": 1.0, "nesterov": False}
    with pytest.raises(GdsimError, match="nesterov"):
        validate_hparams(info, {"nesterov": True})
    with pytest.raises(GdsimError, match="lr must be a finite number, got nan"):
        validate_hparams(info, {"lr": float("nan")})
    with pytest.raises(GdsimError, match="lr must be a number"):
        validate_hparams(info, {"lr": torch.tensor(0.1)})
    with pytest.raises(GdsimError, match="must be a number"):
        OptimizerSpec(info, {"momentum": "0.9"})


# --------------------------------------------------------------------------------------------
# Live changes
# --------------------------------------------------------------------------------------------


def test_apply_hparams_keeps_adam_state_and_uses_new_lr():
    kw = dict(lr=0.01, betas=(0.8, 0.9), eps=1e-8)
    _, opt, p = run_torch("Adam", kw, 3)
    info = get_optimizer("Adam")
    state = opt.state[p]
    m_obj = state["exp_avg"]
    m, v, step = state["exp_avg"].clone(), state["exp_avg_sq"].clone(), int(state["step"])
    th = p.detach().numpy().copy()

    apply_hparams(opt, info, {"lr": 0.2, "betas": [0.7, 0.95]})
    assert state["exp_avg"] is m_obj and torch.equal(state["exp_avg"], m)
    assert torch.equal(state["exp_avg_sq"], v) and int(state["step"]) == step
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["betas"] == (0.7, 0.95)

    opt.zero_grad()
    f_torch(p).backward()
    opt.step()
    # one published Adam step from the kept moments, with the new lr and betas
    g, t = grad(th), step + 1
    m_new = 0.7 * m.numpy() + 0.3 * g
    v_new = 0.95 * v.numpy() + 0.05 * g * g
    expected = th - 0.2 * (m_new / (1 - 0.7**t)) / (np.sqrt(v_new / (1 - 0.95**t)) + 1e-8)
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=RTOL, atol=ATOL)


def test_apply_hparams_checks_cross_fields_against_the_group():
    info = get_optimizer("SGD")
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = parse_spec("SGD(lr=0.1)").build([p])
    with pytest.raises(GdsimError, match="nesterov=True needs momentum > 0"):
        apply_hparams(opt, info, {"nesterov": True})
    assert opt.param_groups[0]["nesterov"] is False
    apply_hparams(opt, info, {"momentum": 0.9, "nesterov": True})
    with pytest.raises(GdsimError, match="needs momentum > 0"):
        apply_hparams(opt, info, {"momentum": 0})
    with pytest.raises(GdsimError, match="lr must be > 0"):
        apply_hparams(opt, info, {"lr": -1, "momentum": 0.5})
    assert opt.param_groups[0]["momentum"] == 0.9  # nothing written when anything is refused
    with pytest.raises(GdsimError, match="SGD has no hyperparameter 'betas'"):
        apply_hparams(opt, info, {"betas": (0.9, 0.9)})


def test_apply_hparams_writes_every_group():
    a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    apply_hparams(opt, get_optimizer("sgd"), {"lr": 0.3})
    assert [g["lr"] for g in opt.param_groups] == [0.3, 0.3]
    with pytest.raises(TypeError):
        apply_hparams(opt, get_optimizer("adam"), {"lr": 0.3})


@pytest.mark.parametrize(
    "name, first, switch",
    [
        ("Adam", {}, {"amsgrad": True}),
        ("AdamW", {}, {"amsgrad": True}),
        ("RMSprop", {}, {"centered": True, "momentum": 0.5}),
        ("RMSprop", {"centered": True}, {"momentum": 0.9}),
    ],
)
def test_switching_features_on_mid_run_keeps_stepping(name, first, switch):
    _, opt, p = run_torch(name, {"lr": 0.01, **first}, 3)
    apply_hparams(opt, get_optimizer(name), switch)
    for _ in range(3):
        opt.zero_grad()
        f_torch(p).backward()
        opt.step()
    assert torch.isfinite(p).all()


def test_asgd_lr_change_takes_effect_on_the_next_step(float64_scalars):
    kw = dict(lr=0.05, lambd=0.1, alpha=0.6, t0=3.0, weight_decay=0.0)
    _, opt, p = run_torch("ASGD", kw, 4)
    apply_hparams(opt, get_optimizer("ASGD"), {"lr": 0.01})
    for _ in range(3):
        opt.zero_grad()
        f_torch(p).backward()
        opt.step()
    ref, _, _, _ = ref_asgd(7, **kw, lr_at={5: 0.01})
    np.testing.assert_allclose(p.detach().numpy(), ref[-1], rtol=RTOL, atol=ATOL)


def test_lbfgs_live_changes_stay_consistent():
    _, opt, p = run_torch("LBFGS", {"lr": 0.5, "max_iter": 1, "history_size": 5}, 6)
    info = get_optimizer("LBFGS")
    state = opt.state[p]
    assert len(state["old_dirs"]) == 5
    apply_hparams(opt, info, {"history_size": 2})
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 2
    apply_hparams(opt, info, {"history_size": 10})

    def closure():
        opt.zero_grad()
        loss = f_torch(p)
        loss.backward()
        return loss

    for _ in range(12):  # more pairs than the old history size: torch's scratch list grew
        opt.step(closure)
    assert len(state["old_dirs"]) > 5
    group = opt.param_groups[0]
    assert group["max_eval"] == 1  # 1 * 5 // 4, resolved by torch
    apply_hparams(opt, info, {"max_iter": 8})
    assert group["max_eval"] == 10  # still automatic
    apply_hparams(opt, info, {"max_eval": 3})
    apply_hparams(opt, info, {"max_iter": 4})
    assert group["max_eval"] == 3  # user-set, kept
    apply_hparams(opt, info, {"max_eval": None})
    assert group["max_eval"] == 5
    opt.step(closure)


# --------------------------------------------------------------------------------------------
# register_optimizer
# --------------------------------------------------------------------------------------------


@pytest.fixture
def registry():
    saved = dict(OPTIMIZERS)
    yield OPTIMIZERS
    OPTIMIZERS.clear()
    OPTIMIZERS.update(saved)


def test_register_optimizer_by_import_path(registry):
    info = register_optimizer("tests.core._custom_optim:SignMomentum")
    assert info.name == "SignMomentum" and get_optimizer("signmomentum") is info
    assert optimizer_names()[-1] == "SignMomentum"
    assert info.elementwise is False and info.needs_closure is False
    assert [hp.name for hp in info.hparams] == ["lr", "momentum", "betas", "warmup", "sign_only"]
    hp = {h.name: h for h in info.hparams}
    assert hp["lr"].default == 0.01 and hp["lr"].log and hp["lr"].low == 0
    assert hp["momentum"].default == 0.5 and hp["momentum"].high == 1  # known name, our range
    assert hp["betas"].kind == "pair" and hp["betas"].default == (0.9, 0.99)
    assert hp["warmup"].kind == "int" and hp["warmup"].default == 2
    assert hp["warmup"].help == "steps taken at half the learning rate"  # from the docstring
    assert hp["sign_only"].kind == "bool"

    spec = parse_spec("signmomentum(lr=0.1, momentum=0.9, warmup=0)")
    assert str(spec) == "SignMomentum(lr=0.1, momentum=0.9, warmup=0)"
    with pytest.raises(GdsimError, match="momentum must be in"):
        parse_spec("SignMomentum(momentum=2)")
    points, _, _ = run_torch("SignMomentum", {"lr": 0.1, "warmup": 0}, 2)
    np.testing.assert_allclose(points[0], np.array(START) - 0.1 * np.sign(grad(np.array(START))))

    assert register_optimizer("tests.core._custom_optim:SignMomentum") is info
    assert register_optimizer("torch.optim:SGD") is OPTIMIZERS["sgd"]
    assert register_optimizer(" tests.core._custom_optim:NeedsClosure ").needs_closure is True


@pytest.mark.parametrize(
    "path, message",
    [
        ("SignMomentum", "write it as package.module:Class"),
        ("tests.core._custom_optim", "write it as package.module:Class"),
        ("a b:C", "write it as package.module:Class"),
        ("no_such_module_gdsim:Lion", "cannot import 'no_such_module_gdsim'"),
        ("tests.core._custom_optim:Missing", "has no attribute 'Missing'"),
        ("tests.core._custom_optim:Plain", "is not a torch.optim.Optimizer subclass"),
        ("tests.core._custom_optim:NOT_AN_OPTIMIZER", "is not a torch.optim.Optimizer subclass"),
        ("tests.core._broken_optim:X", "importing 'tests.core._broken_optim' failed"),
        ("torch.optim:Optimizer", "abstract base class"),
    ],
)
def test_register_optimizer_errors(registry, path, message):
    before = dict(OPTIMIZERS)
    with pytest.raises(GdsimError, match=None) as excinfo:
        register_optimizer(path)
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert OPTIMIZERS == before


def test_registered_class_with_a_clashing_name_is_refused(registry):
    register_optimizer("tests.core._custom_optim:SignMomentum")
    OPTIMIZERS["signmomentum"] = dataclasses.replace(
        OPTIMIZERS["signmomentum"], cls=torch.optim.SGD
    )
    with pytest.raises(GdsimError, match="already registered"):
        register_optimizer("tests.core._custom_optim:SignMomentum")


# --------------------------------------------------------------------------------------------
# Property tests: every text either parses or is refused with GdsimError
# --------------------------------------------------------------------------------------------

_NAMES = optimizer_names() + ["sgd", "ADAM", "torch.optim.Adam", "optim.SGD", "Lion", "os.path"]
_KEYS = sorted({hp.name for info in BUILTIN for hp in info.hparams}) + ["foo", "fused", "x"]
_SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 200).map(repr),
    st.sampled_from(["True", "False", "None", "'strong_wolfe'", "'x'", "nan", "x", "1/2", "f()"]),
)
_VALUES = st.one_of(_SCALARS, st.tuples(_SCALARS, _SCALARS).map(lambda t: f"({t[0]}, {t[1]})"))
_ARGS = st.lists(st.tuples(st.sampled_from(_KEYS), _VALUES), max_size=4).map(
    lambda kvs: ", ".join(f"{k}={v}" for k, v in kvs)
)
_SPEC_LIKE = st.one_of(
    st.tuples(st.sampled_from(_NAMES), _ARGS).map(lambda t: f"{t[0]}({t[1]})"),
    st.sampled_from(_NAMES),
)


def _value_for(hp: HParam) -> st.SearchStrategy:
    """Any value our registry says is valid for ``hp``."""
    if hp.kind == "bool":
        return st.booleans()
    if hp.kind == "choice":
        return st.sampled_from(hp.choices)
    if hp.kind == "pair":
        first, second = (_value_for(e) for e in hp.elements)
        return st.tuples(first, second)
    lo, hi = hp.slider_range()
    if hp.kind == "int":
        values = st.integers(int(lo), int(hi))
    elif hp.log:
        values = st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0**e)
    else:
        values = st.floats(lo, hi)
    values = values.filter(hp.in_range)
    return st.one_of(st.none(), values) if hp.optional else values


def _literal(value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    return repr(value)


@st.composite
def _valid_spec_text(draw):
    info = draw(st.sampled_from(BUILTIN))
    chosen = draw(st.lists(st.sampled_from(info.hparams), unique_by=lambda h: h.name, max_size=5))
    args = ", ".join(f"{hp.name}={_literal(draw(_value_for(hp)))}" for hp in chosen)
    name = draw(st.sampled_from([info.name, info.name.lower(), info.name.upper()]))
    return f"{name}({args})"


_SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_refuse(text):
    try:
        return parse_spec(text)
    except GdsimError as exc:
        assert "\n" not in str(exc)
        return None


@_SETTINGS
@given(st.text(max_size=120))
def test_any_text_parses_or_raises_gdsim_error(text):
    spec = _parse_or_refuse(text)
    if spec is not None:
        assert parse_spec(str(spec)) == spec


@_SETTINGS
@given(st.text(alphabet="Adam(lr=0.1, betas)[]{}*'\"\\.:-+eE9jx\n\t#", max_size=60))
def test_spec_alphabet_text_parses_or_raises_gdsim_error(text):
    _parse_or_refuse(text)
    try:
        parse_call(text)
    except GdsimError:
        pass


@_SETTINGS
@given(_SPEC_LIKE)
def test_spec_like_text_parses_or_raises_gdsim_error(text):
    spec = _parse_or_refuse(text)
    if spec is not None:
        assert parse_spec(str(spec)) == spec


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_valid_spec_text())
def test_every_value_in_our_ranges_parses_round_trips_and_steps_in_torch(text):
    try:
        spec = parse_spec(text)
    except GdsimError as exc:  # only the cross-field rules may refuse in-range values
        assert "nesterov=True needs" in str(exc) or "step_sizes[0] (the minimum)" in str(exc)
        return
    assert parse_spec(str(spec)) == spec
    p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = spec.build([p])  # torch accepts everything our validation accepts

    def closure():
        opt.zero_grad()
        loss = f_torch(p)
        loss.backward()
        return loss

    opt.step(closure)


def test_hparam_range_text():
    assert HParam("a", 0.5, "float", low=0, high=1, high_inclusive=False).range_text() == (
        "in [0, 1)"
    )
    assert HParam("a", 1.0, "float", low=0, low_inclusive=False).range_text() == "> 0"
    assert HParam("a", 1.0, "float").range_text() == ""
    with pytest.raises(ValueError):
        HParam("a", 1, "complex")
