"""``gdsim train``: the training engine headless, printing progress the way the tutorial does.

Why: the same loop the window animates, runnable on a machine with no display (a lab server, CI,
a lecturer checking a setting before class), with a machine-readable ``--metrics`` file. Output is
the tutorial's own progress line, ``Epoch [1/10], Batch [0/25], Loss: 0.6931``, every
``--log-every`` batches (100, as in the tutorial; at least once per epoch), a validation line per
epoch and a final summary. Several ``--optimizer`` options race identical networks (same initial
weights, same batch order); each line is then prefixed with the optimizer.

``--export-script FILE`` writes (atomically, before training starts) the standalone PyTorch
script of this run (``core.teach.codegen.training_script``): it needs only torch, gives the same losses
and prints the same lines as this command between its header and its summary (a race's lanes one
after another). Training then runs and prints as usual.

Exit status: 0 when training ran (even if a race lane diverged), 1 if every lane diverged, 2 with a
one-line message for bad input (unknown data set/optimizer/scheduler, non-positive numbers, a
device that is not there, an unwritable metrics path). Never imports Qt.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from core.errors import GdsimError
from core.files.atomic import check_writable, write_text_atomic

HELP = "train a small network on a 2-D data set, printing the tutorial's progress lines"

_DEFAULT_OPTIMIZER = "Adam(lr=0.01)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.engine.training import TrainConfig  # defaults live in one place

    d = TrainConfig.__dataclass_fields__
    parser.add_argument(
        "--dataset",
        default=d["dataset"].default,
        metavar="NAME",
        help="moons, circles, spiral, xor, blobs; options as in spiral(arms=4) (default: moons)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=d["samples"].default,
        metavar="N",
        help="(default: %(default)s)",
    )
    parser.add_argument(
        "--noise", type=float, default=None, metavar="F", help="default: the data set's own"
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=d["val_fraction"].default,
        metavar="F",
        help="share of samples held out for validation (default: %(default)s)",
    )
    parser.add_argument(
        "--hidden", default="16,16", metavar="SIZES", help="hidden layer sizes (default: 16,16)"
    )
    parser.add_argument(
        "--activation",
        default=d["activation"].default,
        metavar="NAME",
        help="relu, tanh, sigmoid, gelu, leaky_relu, elu, silu (default: relu)",
    )
    parser.add_argument(
        "--optimizer",
        action="append",
        metavar="SPEC",
        help=f"e.g. 'SGD(lr=0.1, momentum=0.9)'; repeat to race several (default: {_DEFAULT_OPTIMIZER})",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="SPEC",
        help="e.g. 'StepLR(step_size=10)', 'OneCycleLR', \"LambdaLR(lr_lambda='0.95^epoch')\"",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=d["epochs"].default,
        metavar="N",
        help="(default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=d["batch_size"].default,
        metavar="N",
        help="(default: %(default)s)",
    )
    parser.add_argument(
        "--device", default="auto", metavar="DEV", help="auto|cpu|cuda|cuda:N|mps (default: auto)"
    )
    parser.add_argument(
        "--seed", type=int, default=d["seed"].default, metavar="N", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=d["patience"].default,
        metavar="N",
        help="report when validation loss has not improved for N epochs (0: never; default: %(default)s)",
    )
    parser.add_argument("--stop-early", action="store_true", help="stop when the patience runs out")
    parser.add_argument(
        "--log-every",
        type=int,
        default=100,
        metavar="N",
        help="batches between progress lines, as the tutorial's batch_idx %% 100 (default: 100)",
    )
    parser.add_argument("--metrics", default=None, metavar="FILE.json", help="write metrics JSON")
    parser.add_argument(
        "--export-script",
        default=None,
        metavar="FILE",
        help="also write a standalone PyTorch script (needs only torch) that reproduces this run, "
        "before training starts",
    )


def _fmt_lr(lr: float) -> str:
    return f"{lr:.4g}"


def run(args: argparse.Namespace) -> int:
    from core.engine.training import TrainConfig, TrainingEngine

    if args.log_every < 1:
        raise GdsimError(f"--log-every must be at least 1, got {args.log_every}")
    metrics_path = args.metrics or None
    if metrics_path:
        check_writable(metrics_path, "--metrics")
    script_path = args.export_script
    if script_path is not None:
        check_writable(script_path, "--export-script")
    config = TrainConfig(
        dataset=args.dataset,
        samples=args.samples,
        noise=args.noise,
        val_fraction=args.val_fraction,
        hidden=args.hidden,
        activation=args.activation,
        optimizers=tuple(args.optimizer or (_DEFAULT_OPTIMIZER,)),
        scheduler=args.scheduler,
        epochs=args.epochs,
        batch_size=args.batch_size,
        device=args.device,
        seed=args.seed,
        patience=args.patience if args.patience != 0 else None,
        stop_early=args.stop_early,
    )
    engine = TrainingEngine(config)
    if script_path is not None:
        from core.teach.codegen import training_script

        script = training_script(config, log_every=args.log_every)
        write_text_atomic(script_path, script, "--export-script")
    data = engine.data
    race = len(engine.lanes) > 1
    sizes = "-".join(str(s) for s in (2, *config.hidden, data.n_classes))
    print(
        f"Training MLP {sizes} ({config.activation}) on {data.name} "
        f"({len(data.train_idx)} train / {len(data.val_idx)} validation samples), "
        f"batch size {config.batch_size}, {config.epochs} epochs, device {engine.device}, "
        f"seed {config.seed}"
    )
    for lane in engine.lanes:
        sched = f", scheduler {config.scheduler}" if config.scheduler else ""
        print(f"Optimizer: {lane.name}{sched}")

    num_epochs, per_epoch, every = config.epochs, engine.batches_per_epoch, args.log_every
    interrupted = False
    try:
        while engine.state not in ("finished", "diverged"):
            # Step up to the next batch that gets a progress line (or the epoch end), then print.
            in_epoch = engine.step_count % per_epoch
            chunk = min(every - in_epoch % every, per_epoch - in_epoch)
            engine.step(chunk)
            _print_update(engine.drain(), num_epochs, per_epoch, every, race)
    except KeyboardInterrupt:
        interrupted = True
    metrics = engine.metrics()
    if metrics_path:
        write_text_atomic(
            metrics_path, json.dumps(metrics, indent=2, allow_nan=False) + "\n", "--metrics"
        )
    if interrupted:
        raise KeyboardInterrupt
    _print_summary(engine, metrics, metrics_path)
    if script_path is not None:
        print(f"Script written to {script_path}")
    return 1 if engine.state == "diverged" else 0


def _print_update(update: Any, num_epochs: int, per_epoch: int, every: int, race: bool) -> None:
    names = {lane.lane: lane.name for lane in update.lanes}

    def prefix(lane: int) -> str:
        return f"[{names[lane]}] " if race else ""

    lines: list[tuple[int, int, str]] = []  # (step, order, text): batch lines, then epoch lines
    for curve in update.curves:
        for step, loss in zip(curve.steps.tolist(), curve.losses.tolist(), strict=True):
            epoch, batch_idx = divmod(step, per_epoch)
            if batch_idx % every == 0:
                lines.append(
                    (
                        step,
                        curve.lane,
                        f"{prefix(curve.lane)}Epoch [{epoch + 1}/{num_epochs}], "
                        f"Batch [{batch_idx}/{per_epoch}], Loss: {loss:.4f}",
                    )
                )
    for ev in update.events:
        if ev.kind == "epoch":
            text = (
                f"{prefix(ev.lane)}Epoch [{ev.epoch}/{num_epochs}], Validation Loss: "
                f"{ev.val_loss:.4f}, Validation Accuracy: {ev.val_accuracy:.4f}, "
                f"Train Loss: {ev.train_loss:.4f}, LR: {_fmt_lr(ev.lr)}"
            )
            lines.append((ev.steps - 1, 100 + ev.lane, text))
        elif ev.kind == "early_stop":
            what = "stopping" if ev.stopped else "training would stop here"
            text = (
                f"{prefix(ev.lane)}Early stopping: validation loss has not improved for "
                f"{ev.patience} epochs (best {ev.best_val_loss:.4f} at epoch {ev.best_epoch}); "
                f"{what}"
            )
            lines.append((ev.epoch * per_epoch - 1, 200 + ev.lane, text))
        elif ev.kind == "diverged":
            where = (
                f"at the end of epoch {ev.epoch}"
                if ev.batch < 0
                else f"in epoch {ev.epoch}, batch {ev.batch}"
            )
            text = f"{prefix(ev.lane)}Diverged: {ev.reason} {where} (try a smaller learning rate)"
            lines.append((ev.step, 300 + ev.lane, text))
        elif ev.kind == "error":
            lines.append((math.inf, 400, f"warning: {ev.message}"))
    for _, _, text in sorted(lines, key=lambda t: (t[0], t[1])):
        print(text, flush=False)


def _print_summary(engine: Any, metrics: dict, metrics_path: str | None) -> None:
    rate = metrics["steps_per_second"]
    rate_text = f"{rate:.0f} steps/s" if rate else "no steps"
    print(
        f"Done: {engine.state}, {engine.step_count} batches in {metrics['seconds']:.2f} s "
        f"of training on {engine.device} ({rate_text})"
    )
    for lane in metrics["lanes"]:
        final = lane["final"]
        head = f"  {lane['name']}: " if len(metrics["lanes"]) > 1 else "  "
        if final is None:
            print(f"{head}{lane['state']} before the first epoch ended")
            continue
        acc = final["val_accuracy"]
        print(
            f"{head}{lane['state']} after epoch {final['epoch']}: validation accuracy "
            f"{acc:.4f}, validation loss {final['val_loss']:.4f} "
            f"(best {final['best_val_loss']:.4f} at epoch {final['best_epoch']})"
        )
    if metrics_path:
        print(f"Metrics written to {metrics_path}")
