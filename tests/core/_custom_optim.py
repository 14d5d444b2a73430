"""Test fixtures for ``register_optimizer``: a tiny custom optimizer and some non-optimizers.

Imported by path ("tests.core._custom_optim:SignMomentum") the way a user's package would be.
"""

import torch


class SignMomentum(torch.optim.Optimizer):
    """Sign descent with momentum (a toy Lion-like optimizer for registry tests).

    Args:
        params: parameters to optimize.
        lr (float): step size of each signed step. Default 0.01.
        momentum (float): weight of the previous direction.
        betas (Tuple[float, float]): unused here; present to test pair hyperparameters.
        warmup (int): steps taken at half the learning rate.
        sign_only (bool): use the sign of the direction instead of the direction.
        label (str): a string argument, which the registry must skip.
    """

    def __init__(
        self,
        params,
        lr=0.01,
        momentum=0.5,
        betas=(0.9, 0.99),
        warmup=2,
        sign_only=True,
        label="toy",
        foreach=None,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            betas=betas,
            warmup=warmup,
            sign_only=sign_only,
            label=label,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                buf = state.setdefault("buf", torch.zeros_like(p))
                state["n"] = state.get("n", 0) + 1
                buf.mul_(group["momentum"]).add_(p.grad)
                direction = buf.sign() if group["sign_only"] else buf
                lr = group["lr"] * (0.5 if state["n"] <= group["warmup"] else 1.0)
                p.add_(direction, alpha=-lr)
        return loss


class NeedsClosure(torch.optim.Optimizer):
    """Takes one gradient step; its step() requires a closure, like LBFGS."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(p.grad, alpha=-group["lr"])
        return loss


class Plain:
    """Not an optimizer."""


NOT_AN_OPTIMIZER = 42
