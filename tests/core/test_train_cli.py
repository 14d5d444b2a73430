"""`gdsim train`: tutorial-format progress, metrics JSON, one-line exit-2 errors, no Qt."""

import json
import re
import subprocess
import sys

import pytest

from app.main import main

PROGRESS = re.compile(r"^Epoch \[(\d+)/(\d+)\], Batch \[(\d+)/(\d+)\], Loss: \d+\.\d{4}$")
VALIDATION = re.compile(
    r"^Epoch \[(\d+)/(\d+)\], Validation Loss: \d+\.\d{4}, Validation Accuracy: [01]\.\d{4}, "
    r"Train Loss: \d+\.\d{4}, LR: \S+$"
)
QT = ("PySide6", "pyqtgraph", "shiboken6")


def test_train_in_a_subprocess_prints_the_tutorial_format_writes_metrics_and_loads_no_qt(
    tmp_path,
):
    metrics = tmp_path / "m.json"
    code = (
        "import sys\n"
        "from app.main import main\n"
        "status = main(['train', '--epochs', '2', '--samples', '400', '--log-every', '5',\n"
        f"               '--device', 'cpu', '--metrics', {str(metrics)!r}])\n"
        f"print('QT:', sorted(m for m in sys.modules if m.split('.')[0] in {QT!r}))\n"
        "sys.exit(status)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[-1] == "QT: []"
    progress = [m.groups() for m in map(PROGRESS.match, lines) if m]
    # 320 training samples / batch 32 = 10 batches; a line every 5 batches
    assert progress == [(e, "2", b, "10") for e in ("1", "2") for b in ("0", "5")]
    validation = [m.groups() for m in map(VALIDATION.match, lines) if m]
    assert validation == [("1", "2"), ("2", "2")]
    # each epoch's validation line comes after its batch lines and before the next epoch's
    kinds = ["P" if PROGRESS.match(x) else "V" if VALIDATION.match(x) else "" for x in lines]
    assert "".join(kinds) == "PPVPPV"
    assert any(x.startswith("Done: finished") for x in lines)
    data = json.loads(metrics.read_text())
    assert [e["epoch"] for e in data["epochs"]] == [1, 2]
    for epoch in data["epochs"]:
        for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
            assert isinstance(epoch[key], float)
    assert data["device"] == "cpu" and data["config"]["epochs"] == 2
    assert not list(tmp_path.glob(".gdsim-*"))  # the temporary file was renamed away


def test_bad_input_in_a_subprocess_is_one_line_exit_2_without_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "app", "train", "--dataset", "mnist"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("gdsim train: error: unknown data set 'mnist'")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--dataset", "swirl"], "unknown data set 'swirl'"),
        (["--optimizer", "Adamm"], "Adamm"),
        (["--optimizer", "Adam(lr=-1)"], "lr"),
        (["--epochs", "0"], "epochs must be between 1"),
        (["--epochs", "-3"], "epochs must be between 1"),
        (["--batch-size", "0"], "batch size must be between 1"),
        (["--epochs", "ten"], "invalid int value"),
        (["--device", "cuda:7"], "'cuda:7' is not available"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--scheduler", "StepLR(gamma=5)"], "StepLR gamma"),
        (["--hidden", "16,x"], "hidden layer sizes"),
        (["--activation", "swish"], "unknown activation"),
        (["--metrics", "/no/such/folder/m.json"], "does not exist"),
        (["--log-every", "0"], "--log-every"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, words, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    try:
        status = main(["train", *argv])
    except SystemExit as exc:  # argparse's own usage errors exit directly
        status = exc.code
    assert status == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and words in captured.err
    assert captured.err.startswith("gdsim train: error: ")
    assert captured.out == ""  # refused before any training output


def test_race_with_repeated_optimizer_prefixes_lines(capsys):
    argv = ["train", "--epochs", "1", "--samples", "200", "--device", "cpu"]
    assert main([*argv, "--optimizer", "SGD(lr=0.1)", "--optimizer", "Adam(lr=0.01)"]) == 0
    out = capsys.readouterr().out
    assert "[SGD(lr=0.1)] Epoch [1/1], Batch [0/5], Loss: " in out
    assert "[Adam(lr=0.01)] Epoch [1/1], Batch [0/5], Loss: " in out
    assert "[Adam(lr=0.01)] Epoch [1/1], Validation Loss: " in out


def test_divergence_is_reported_and_exits_1(capsys, tmp_path):
    metrics = tmp_path / "m.json"
    argv = ["train", "--epochs", "3", "--samples", "200", "--device", "cpu"]
    assert main([*argv, "--optimizer", "SGD(lr=1e6)", "--metrics", str(metrics)]) == 1
    out = capsys.readouterr().out
    assert "Diverged: loss became nan" in out and "Done: diverged" in out
    assert json.loads(metrics.read_text())["state"] == "diverged"


DIVERGED = re.compile(r"^Diverged: loss became (nan|inf|-inf) in epoch (\d+), batch (\d+) ")


@pytest.mark.parametrize("every", ["1", "1000"])
def test_a_diverged_run_stops_at_the_diverging_batch_whatever_the_log_interval(
    capsys, tmp_path, every
):
    metrics = tmp_path / "m.json"
    argv = ["train", "--epochs", "2", "--samples", "400", "--device", "cpu", "--metrics"]
    assert main([*argv, str(metrics), "--optimizer", "SGD(lr=1e30)", "--log-every", every]) == 1
    out = capsys.readouterr().out.splitlines()
    (where,) = [m.groups() for m in map(DIVERGED.match, out) if m]
    step = (int(where[1]) - 1) * 10 + int(where[2])  # 320 training samples: 10 batches an epoch
    assert json.loads(metrics.read_text())["steps"] == step + 1
    assert any(x.startswith(f"Done: diverged, {step + 1} batches in ") for x in out)


def test_early_stopping_line(capsys):
    argv = ["train", "--epochs", "4", "--samples", "200", "--device", "cpu"]
    assert main([*argv, "--optimizer", "SGD(lr=1e-9)", "--patience", "2", "--stop-early"]) == 0
    out = capsys.readouterr().out
    assert "Early stopping: validation loss has not improved for 2 epochs" in out
    assert "Epoch [3/4], Validation Loss" in out and "Epoch [4/4]" not in out
