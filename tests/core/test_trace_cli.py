"""``gdsim trace``: the headless JSON contract, in-process and through a real subprocess."""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.cli.main import run_subcommand
from core.cli.trace import DEFAULT_OPTIMIZERS, MAX_STEPS, trace
from core.engine.surfaces import SURFACES, get_surface

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _strict_loads(text: str):
    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _run(capsys, *argv):
    code = run_subcommand("trace", list(argv))  # never writes to a device: --out is tmp_path
    out, err = capsys.readouterr()
    return code, out, err


def _check_schema(doc, n_steps):
    assert set(doc) == {"surface", "runs"}
    assert set(doc["surface"]) == {"name", "domain"}
    (x0, x1), (y0, y1) = doc["surface"]["domain"]
    assert x0 < x1 and y0 < y1
    for run in doc["runs"]:
        assert set(run) == {"optimizer", "hparams", "start", "points", "losses", "status", "steps"}
        assert run["status"] in ("ok", "diverged")
        assert len(run["points"]) == len(run["losses"]) == run["steps"] + 1
        assert run["points"][0] == run["start"]
        assert all(len(p) == 2 for p in run["points"])
        assert all(math.isfinite(v) for p in run["points"] for v in p)
        assert all(math.isfinite(v) for v in run["losses"])
        if run["status"] == "ok":
            assert run["steps"] == n_steps
        else:
            assert run["steps"] < n_steps


def test_in_process_schema_and_values(capsys):
    code, out, err = _run(
        capsys,
        "--surface", "Rosenbrock",
        "--start", "-1.5", "2",
        "--steps", "25",
        "--optimizer", "Adam(lr=0.05, betas=(0.8, 0.99))",
        "--optimizer", "sgd(lr=0.0005, momentum=0.9)",
    )  # fmt: skip
    assert code == 0 and err == ""
    doc = _strict_loads(out)
    _check_schema(doc, 25)
    assert doc["surface"] == {"name": "rosenbrock", "domain": [[-2.0, 2.0], [-1.0, 3.0]]}
    adam, sgd = doc["runs"]
    assert adam["optimizer"] == "Adam" and sgd["optimizer"] == "SGD"
    assert adam["hparams"] == {
        "lr": 0.05,
        "betas": [0.8, 0.99],
        "eps": 1e-08,
        "weight_decay": 0.0,
        "amsgrad": False,
        "decoupled_weight_decay": False,
    }
    assert sgd["hparams"]["momentum"] == 0.9 and sgd["hparams"]["nesterov"] is False
    for run in (adam, sgd):
        assert run["status"] == "ok" and len(run["points"]) == 26
        assert run["start"] == [-1.5, 2.0]
    # the trajectory is torch.optim's own
    p = torch.nn.Parameter(torch.tensor([-1.5, 2.0], dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.05, betas=(0.8, 0.99))
    for _ in range(25):
        opt.zero_grad()
        SURFACES["rosenbrock"].fn(p).backward()
        opt.step()
    assert adam["points"][-1] == p.detach().tolist()
    assert adam["losses"][-1] == SURFACES["rosenbrock"].value(*adam["points"][-1])


def test_defaults_start_and_optimizers(capsys):
    code, out, _ = _run(capsys, "--surface", "himmelblau", "--steps", "3")
    assert code == 0
    doc = _strict_loads(out)
    assert [r["optimizer"] for r in doc["runs"]] == [t.split("(")[0] for t in DEFAULT_OPTIMIZERS]
    for run in doc["runs"]:
        assert run["start"] == list(SURFACES["himmelblau"].start)


def test_diverging_run_is_strict_json_and_keeps_the_last_finite_point(capsys):
    code, out, _ = _run(
        capsys,
        "--surface", "rosenbrock", "--steps", "40",
        "--optimizer", "SGD(lr=10)", "--optimizer", "SGD(lr=0.0001)",
        "--json-indent", "2",
    )  # fmt: skip
    assert code == 0
    assert "NaN" not in out and "Infinity" not in out
    doc = _strict_loads(out)
    _check_schema(doc, 40)
    wild, calm = doc["runs"]
    assert wild["status"] == "diverged" and calm["status"] == "ok"
    assert len(calm["points"]) == 41


def test_saddle_divergence_mid_run(capsys):
    # SGD multiplies y by 1.2 a step on x^2 - y^2: from y = 0.02 it passes 1e6 after ~97 steps
    code, out, _ = _run(
        capsys, "--surface", "saddle", "--steps", "500", "--optimizer", "SGD(lr=0.1)"
    )
    doc = _strict_loads(out)
    (run,) = doc["runs"]
    assert code == 0 and run["status"] == "diverged" and 90 < run["steps"] < 110
    _check_schema(doc, 500)


def test_expression_surface(capsys):
    code, out, _ = _run(
        capsys, "--surface", "(x - 1)^2 + 2*(y + 0.5)^2", "--start", "0", "0", "--steps", "2",
        "--optimizer", "SGD(lr=0.1)",
    )  # fmt: skip
    doc = _strict_loads(out)
    assert code == 0 and doc["surface"]["name"] == "(x - 1)^2 + 2*(y + 0.5)^2"
    assert doc["surface"]["domain"] == [[-3.0, 3.0], [-3.0, 3.0]]
    # by hand: grad = (2(x-1), 4(y+0.5)); x <- x - 0.1 * grad
    np.testing.assert_allclose(doc["runs"][0]["points"], [[0, 0], [0.2, -0.2], [0.36, -0.32]])


def test_out_file_is_written_atomically(capsys, tmp_path):
    target = tmp_path / "trace.json"
    target.write_text("old")
    code, out, err = _run(
        capsys, "--surface", "bowl", "--steps", "5", "--out", str(target), "--optimizer", "Adam"
    )
    assert code == 0 and out == "" and err == ""
    doc = _strict_loads(target.read_text())
    _check_schema(doc, 5)
    assert os.listdir(tmp_path) == ["trace.json"]  # no temporary file left behind


def test_failed_run_leaves_no_temporary_file(capsys, tmp_path):
    target = tmp_path / "t.json"
    code, _, err = _run(
        capsys, "--surface", "bowl", "--steps", "5", "--out", str(target), "--optimizer", "Nope"
    )
    assert code == 2 and err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_trace_function_for_notebooks():
    doc = trace("booth", 4, ["SGD(lr=0.01)"], start=(0.0, 0.0))
    assert doc["runs"][0]["steps"] == 4 and len(doc["runs"][0]["points"]) == 5
    json.dumps(doc, allow_nan=False)


BAD_INPUTS = {
    "unknown surface": ["--surface", "nosuchsurface(", "--steps", "3"],
    "unknown name in expression": ["--surface", "x + z", "--steps", "3"],
    "empty surface": ["--surface", "", "--steps", "3"],
    "bad spec": ["--surface", "bowl", "--steps", "3", "--optimizer", "Adam(lr=)"],
    "unknown optimizer": ["--surface", "bowl", "--steps", "3", "--optimizer", "Adamm"],
    "bad hparam": ["--surface", "bowl", "--steps", "3", "--optimizer", "SGD(lr=-1)"],
    "unknown hparam": ["--surface", "bowl", "--steps", "3", "--optimizer", "SGD(foo=1)"],
    "zero steps": ["--surface", "bowl", "--steps", "0"],
    "negative steps": ["--surface", "bowl", "--steps", "-5"],
    "too many steps": ["--surface", "bowl", "--steps", str(MAX_STEPS + 1)],
    "steps not a number": ["--surface", "bowl", "--steps", "ten"],
    "nan start": ["--surface", "bowl", "--steps", "3", "--start", "nan", "0"],
    "inf start": ["--surface", "bowl", "--steps", "3", "--start", "1", "inf"],
    "start out of range": ["--surface", "bowl", "--steps", "3", "--start", "1e300", "0"],
    "one start coordinate": ["--surface", "bowl", "--steps", "3", "--start", "1"],
    "start where f is nan": ["--surface", "log(x)", "--steps", "3", "--start", "-1", "0"],
    "unwritable out": ["--surface", "bowl", "--steps", "3", "--out", "/nonexistent/dir/x.json"],
    "out is a directory": ["--surface", "bowl", "--steps", "3", "--out", "/"],
    "bad indent": ["--surface", "bowl", "--steps", "3", "--json-indent", "-1"],
    "missing surface": ["--steps", "3"],
    "unknown option": ["--surface", "bowl", "--steps", "3", "--frobnicate"],
    "negative noise": ["--surface", "bowl", "--steps", "3", "--noise", "-0.5"],
    "nan noise": ["--surface", "bowl", "--steps", "3", "--noise", "nan"],
    "huge noise": ["--surface", "bowl", "--steps", "3", "--noise", "1e9"],
    "noise not a number": ["--surface", "bowl", "--steps", "3", "--noise", "lots"],
    "seed out of range": ["--surface", "bowl", "--steps", "3", "--noise", "1", "--seed", "-1"],
    "unknown scheduler": ["--surface", "bowl", "--steps", "3", "--scheduler", "WarmupLR"],
    "bad scheduler arg": ["--surface", "bowl", "--steps", "3", "--scheduler", "StepLR(gamma=2)"],
    "scheduler count": [
        "--surface",
        "bowl",
        "--steps",
        "3",
        "--optimizer",
        "SGD",
        "--optimizer",
        "Adam",
        "--optimizer",
        "RMSprop",
        "--scheduler",
        "StepLR",
        "--scheduler",
        "none",
    ],  # fmt: skip
    "scheduler vs optimizer": [
        "--surface",
        "bowl",
        "--steps",
        "3",
        "--optimizer",
        "Adagrad",
        "--scheduler",
        "OneCycleLR(cycle_momentum=True)",
    ],  # fmt: skip
    "zero horizon": [
        "--surface",
        "bowl",
        "--steps",
        "3",
        "--scheduler",
        "StepLR",
        "--horizon",
        "0",
    ],
}


@pytest.mark.parametrize("argv", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(capsys, argv):
    try:
        code = run_subcommand("trace", argv)
    except SystemExit as exc:  # argparse's own usage errors (one line, see core.cli.main._Parser)
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("gdsim trace: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_subprocess_exit_codes_one_line_errors_and_no_qt(tmp_path):
    """One fresh process (each torch import costs ~1.5 s here) runs ``python -m app trace`` for
    real (app/__main__.py via runpy, so its exit status is the one a shell would see), then every
    bad input through ``app.main.main``, then lists any Qt module that got imported."""
    script = (
        "import runpy, sys\n"
        "sys.argv = ['gdsim', 'trace', '--surface', 'six_hump_camel', '--steps', '7',"
        " '--out', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('app', run_name='__main__')\n"
        "    print('no exit')\n"
        "except SystemExit as exc:\n"
        "    print(exc.code)\n"
        "from app.main import main\n"
        "codes = []\n"
        "for argv in " + repr(list(BAD_INPUTS.values())) + ":\n"
        "    try:\n"
        "        codes.append(main(['trace', *argv]))\n"
        "    except SystemExit as exc:\n"
        "        codes.append(exc.code)\n"
        "print(codes)\n"
        "print([m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken'))])\n"
    )
    out_file = tmp_path / "t.json"
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    good, codes, qt = proc.stdout.strip().splitlines()
    assert good == "0"
    _check_schema(_strict_loads(out_file.read_text()), 7)
    assert codes == repr([2] * len(BAD_INPUTS)), proc.stderr
    assert qt == "[]"
    lines = proc.stderr.splitlines()
    assert len(lines) == len(BAD_INPUTS), proc.stderr
    assert all(line.startswith("gdsim trace: error: ") for line in lines), lines
    assert "Traceback" not in proc.stderr


def test_out_to_a_symlink_replaces_its_target(capsys, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, _ = _run(capsys, "--surface", "bowl", "--steps", "2", "--out", str(link))
    assert code == 0 and link.is_symlink()
    _check_schema(_strict_loads(real.read_text()), 2)


# --- schedules and noise ----------------------------------------------------------------------------


def _check_scheduled(run):
    assert set(run) == {
        "optimizer", "hparams", "start", "points", "losses", "status", "steps", "scheduler", "lr",
    }  # fmt: skip
    assert len(run["lr"]) == len(run["points"]) == run["steps"] + 1
    assert all(isinstance(v, float) and math.isfinite(v) for v in run["lr"])


def test_one_scheduler_for_every_optimizer_or_one_each(capsys):
    code, out, _ = _run(
        capsys, "--surface", "bowl", "--steps", "8", "--optimizer", "SGD(lr=0.1)",
        "--optimizer", "Adam(lr=0.2)", "--scheduler", "StepLR(step_size=3, gamma=0.5)",
    )  # fmt: skip
    doc = _strict_loads(out)
    assert code == 0 and set(doc) == {"surface", "runs"}
    sgd, adam = doc["runs"]
    for run in (sgd, adam):
        _check_scheduled(run)
        assert run["scheduler"] == "StepLR(step_size=3, gamma=0.5)"
    assert sgd["lr"] == [0.1] * 3 + [0.05] * 3 + [0.025] * 3
    code, out, _ = _run(
        capsys, "--surface", "bowl", "--steps", "8", "--optimizer", "SGD(lr=0.1)",
        "--optimizer", "Adam(lr=0.2)", "--scheduler", "none", "--scheduler", "ExponentialLR",
    )  # fmt: skip
    plain, decayed = _strict_loads(out)["runs"]
    assert "lr" not in plain and "scheduler" not in plain
    _check_scheduled(decayed)
    assert decayed["lr"][1] == pytest.approx(0.2 * 0.95)


def test_scheduler_defaults_follow_the_horizon(capsys):
    def drops(*extra):
        code, out, _ = _run(capsys, "--surface", "bowl", "--steps", "400", "--optimizer",
                            "SGD(lr=0.01)", "--scheduler", "StepLR", *extra)  # fmt: skip
        lr = _strict_loads(out)["runs"][0]["lr"]
        return [i for i in range(1, len(lr)) if lr[i] < lr[i - 1]]

    assert drops() == [333]  # the window's default horizon: 1000 steps
    assert drops("--horizon", "30")[:4] == [10, 20, 30, 40]  # StepLR goes on past it


def test_noise_is_seeded_reproducible_and_zero_changes_nothing(capsys):
    base = ["--surface", "himmelblau", "--steps", "30", "--optimizer", "SGD(lr=0.01)",
            "--optimizer", "Adam(lr=0.05)"]  # fmt: skip

    def doc(*extra):
        code, out, err = _run(capsys, *base, *extra)
        assert code == 0 and err == ""
        return _strict_loads(out)

    a, b, c = (
        doc("--noise", "2", "--seed", "5"),
        doc("--noise", "2", "--seed", "5"),
        doc("--noise", "2", "--seed", "6"),
    )
    assert a == b and a["runs"] != c["runs"]
    assert a["noise"] == {"sigma": 2.0, "seed": 5}
    _check_schema({k: v for k, v in a.items() if k != "noise"}, 30)
    plain, zero = doc(), doc("--noise", "0", "--seed", "9")
    assert plain == zero and "noise" not in zero
    assert a["runs"][0]["points"] != plain["runs"][0]["points"]
    # the documented generator: run i draws from torch.Generator().manual_seed(1000*seed + i)
    p = torch.nn.Parameter(torch.tensor(SURFACES["himmelblau"].start, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.05)
    g = torch.Generator().manual_seed(5001)
    for _ in range(30):
        opt.zero_grad()
        SURFACES["himmelblau"].fn(p).backward()
        p.grad.add_(torch.randn(2, generator=g, dtype=torch.float64), alpha=2.0)
        opt.step()
    assert a["runs"][1]["points"][-1] == p.detach().tolist()


def test_export_script_carries_schedule_and_noise(capsys, tmp_path):
    from core.teach.codegen import race_script

    target = tmp_path / "race.py"
    argv = ["--surface", "ravine", "--steps", "20", "--optimizer", "SGD(lr=0.02)",
            "--optimizer", "SGD(lr=0.02)", "--scheduler", "none",
            "--scheduler", "StepLR(step_size=5, gamma=0.3)", "--noise", "3", "--seed", "1",
            "--export-script", str(target)]  # fmt: skip
    code, out, err = _run(capsys, *argv)
    assert code == 0 and err == ""
    start = tuple(get_surface("ravine").start)
    expected = race_script(
        "ravine",
        [("SGD(lr=0.02)", start, None, None),
         ("SGD(lr=0.02)", start, None, "StepLR(step_size=5, gamma=0.3)")],
        20, noise=3.0, seed=1,
    )  # fmt: skip
    assert target.read_text(encoding="utf-8") == expected
    assert "manual_seed(1001)" in expected and "StepLR(optimizer, step_size=5" in expected


HUGE = "1" + "0" * 400  # a whole number beyond every float (309+ digits)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--optimizer", f"SGD(lr={HUGE})"], "lr is too large, got 100000…(401 digits)"),
        (["--optimizer", f"SGD(lr=-{HUGE})"], "lr must be > 0, got -100000…(401 digits)"),
        (["--scheduler", f"StepLR(gamma={HUGE})"], "--scheduler: StepLR gamma must be in"),
        (["--scheduler", f"StepLR(step_size={HUGE})"], "StepLR step_size must be in [1, 1e+09]"),
        (["--steps", "1" * 5000], "invalid int value: '111111…(5000 digits)'"),
    ],
)
def test_hostile_numbers_exit_2_with_one_short_line_naming_the_field(capsys, argv, words):
    args = ["--surface", "bowl", "--steps", "3", "--optimizer", "SGD(lr=0.01)", *argv]
    try:
        code = run_subcommand("trace", args)
    except SystemExit as exc:  # argparse's own usage errors exit directly
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("gdsim trace: error: ") and words in err, err
    assert err.count("\n") == 1 and len(err) < 160, err


def test_a_surface_that_starts_with_a_minus_is_an_expression_not_an_option(capsys):
    code, out, err = _run(capsys, "--surface", "-x**2", "--steps", "2", "--start", "0.5", "0")
    assert code == 0, err
    assert _strict_loads(out)["surface"]["name"] == "-x**2"
    with pytest.raises(SystemExit) as info:  # "-x" looks like an option: say how to give it
        run_subcommand("trace", ["--surface", "-x", "--steps", "2"])
    assert info.value.code == 2
    assert "write --surface=VALUE" in capsys.readouterr().err
    code, out, err = _run(capsys, "--surface=-x", "--steps", "2", "--start", "0.5", "0")
    assert code == 0 and _strict_loads(out)["surface"]["name"] == "-x"


def test_a_finite_but_huge_start_value_is_called_too_large_not_infinite(capsys):
    code, _out, err = _run(capsys, "--surface", "x**2*1e308", "--steps", "2", "--start", "1.2", "0")
    assert code == 2 and "too large" in err and "not finite" not in err, err
    code, _out, err = _run(capsys, "--surface", "1/x", "--steps", "2", "--start", "0", "1")
    assert code == 2 and "not finite" in err, err


def test_writing_over_a_read_only_file_is_refused_and_keeps_it(capsys, tmp_path):
    out = tmp_path / "figure.json"
    out.write_text("precious")
    out.chmod(0o444)
    code, _out, err = _run(capsys, "--surface", "bowl", "--steps", "2", "--out", str(out))
    assert code == 2 and "read-only" in err and str(out) in err and err.count("\n") == 1, err
    assert out.read_text() == "precious" and out.stat().st_mode & 0o777 == 0o444
