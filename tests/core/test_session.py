"""Sessions and presets: the format, hostile files refused in one line, atomic saves, and each
built-in preset checked with the real engines to show what its explanation claims."""

import contextlib
import dataclasses
import errno
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.files.atomic
import core.files.session as session_mod
from core.engine.optimizers import parse_spec
from core.engine.race import MAX_HORIZON, MAX_NOISE, MAX_SEED, Race, Runner
from core.engine.surfaces import get_surface, surface_names
from core.engine.training import EarlyStop, EpochEnd, TrainConfig, TrainingEngine
from core.errors import GdsimError
from core.files.session import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_RUNNERS,
    MAX_STEPS,
    RunnerState,
    Session,
    SurfacesState,
    dumps_session,
    list_presets,
    load_preset,
    load_session,
    loads_saved,
    loads_session,
    preset_name,
    save_session,
    spec_text,
)
from tests.never_open import forbid_opening

ROOT = pathlib.Path(__file__).resolve().parents[2]

PRESETS_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "presets")


def doc(**changes):
    """A small valid surfaces document, with top-level keys changed."""
    base = {
        "format": "gdsim-session",
        "version": 1,
        "title": "t",
        "explanation": "",
        "view": "surfaces",
        "surfaces": {
            "surface": "bowl",
            "start": [1.0, 2.0],
            "runners": [
                {"spec": "SGD(lr=0.1)", "label": None, "visible": True},
                {"spec": "Adam(lr=0.01)", "label": "mine", "visible": False, "start": [0.5, 0.5]},
                {"spec": "RMSprop(lr=0.01)"},
            ],
            "speed": 50,
            "steps": 0,
        },
    }
    base.update(changes)
    return base


def with_surfaces(**changes):
    d = doc()
    d["surfaces"].update(changes)
    return d


def with_runner(i, **changes):
    d = doc()
    d["surfaces"]["runners"][i].update(changes)
    return d


def with_training(**fields):
    return doc(training=fields)


def refused(content) -> str:
    """The one-line message a refused document gets."""
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    with pytest.raises(GdsimError) as info:
        loads_session(content)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# --------------------------------------------------------------------------------------------
# The format
# --------------------------------------------------------------------------------------------


def test_a_document_becomes_a_session_with_canonical_values():
    s = loads_session(json.dumps(doc()))
    assert s.view == "surfaces" and s.training is None and s.warnings == ()
    assert s.surfaces == SurfacesState(
        "bowl",
        (1.0, 2.0),
        (
            RunnerState("SGD(lr=0.1)"),
            RunnerState("Adam(lr=0.01)", "mine", False, (0.5, 0.5)),
            RunnerState("RMSprop(lr=0.01)"),
        ),
        50.0,
        0,
    )
    # registry names and SPECs come out canonical, and lr is always written
    d = with_surfaces(
        surface=" Six_Hump Camel ", runners=[{"spec": "sgd"}, {"spec": "adam(lr=1e-3)"}]
    )
    s = loads_session(json.dumps(d))
    assert s.surfaces.surface == "six-hump-camel"
    assert [r.spec for r in s.surfaces.runners] == ["SGD(lr=0.001)", "Adam(lr=0.001)"]
    for r in s.surfaces.runners:
        assert parse_spec(r.spec) == parse_spec(spec_text(parse_spec(r.spec)))


def test_absent_optional_keys_take_the_engines_defaults():
    s = loads_session(
        json.dumps({"format": "gdsim-session", "version": 1, "surfaces": {"surface": "beale"}})
    )
    assert s == Session(surfaces=SurfacesState("beale"))
    assert s.surfaces.start is None and s.surfaces.speed == 100.0 and s.surfaces.steps == 0
    t = loads_session(json.dumps(doc(view="training", training={})))
    assert t.training == TrainConfig()
    assert t.surfaces is not None  # the other view's section is kept when present


def test_expression_surfaces_keep_their_text():
    s = loads_session(json.dumps(with_surfaces(surface="  x^2 + 3*y^2 ")))
    assert s.surfaces.surface == "x^2 + 3*y^2"
    race = s.surfaces.build_race()
    assert race.surface.is_expression and len(race.runners) == 3


def test_build_race_uses_every_runner_start_label_and_pre_runs_steps():
    s = loads_session(json.dumps(with_surfaces(steps=7)))
    race = s.surfaces.build_race()
    assert race.t == 7 and all(r.steps == 7 for r in race.runners)
    a, b, c = race.runners
    assert a.start == (1.0, 2.0) and b.start == (0.5, 0.5) and c.start == (1.0, 2.0)
    assert b.label == "mine" and a.label == "SGD(lr=0.1)"
    assert s.surfaces.build_race(run=False).t == 0


def test_schedules_and_noise_load_canonical_and_build_the_same_race():
    d = with_surfaces(noise={"sigma": 0.3, "seed": 12}, horizon=60, steps=25)
    d["surfaces"]["runners"][0]["scheduler"] = " steplr( gamma=0.5 ) "
    d["surfaces"]["runners"][1]["scheduler"] = None
    d["surfaces"]["runners"][2]["scheduler"] = "none"
    s = loads_session(json.dumps(d))
    st_ = s.surfaces
    assert (st_.noise, st_.seed, st_.horizon) == (0.3, 12, 60)
    assert [r.scheduler for r in st_.runners] == ["StepLR(gamma=0.5)", None, None]
    race = st_.build_race(history=None)
    a, b, c = race.runners
    assert (race.noise, race.seed, race.horizon) == (0.3, 12, 60)
    assert a.schedule.kwargs == {"step_size": 20, "gamma": 0.5} and b.scheduler is None
    # the same race built by hand: same noise streams, same schedule, same numbers
    ref = Race("bowl", start=(1.0, 2.0), history=None, horizon=60, noise=0.3, seed=12)
    ra = ref.add("SGD(lr=0.1)", scheduler="StepLR(gamma=0.5)")
    rb = ref.add("Adam(lr=0.01)", start=(0.5, 0.5))
    ref.add("RMSprop(lr=0.01)")
    ref.step(25)
    assert np.array_equal(a.trail.points(), ra.trail.points())
    assert np.array_equal(b.trail.points(), rb.trail.points())
    assert np.array_equal(a.lr_series()[1], ra.lr_series()[1])
    # written back: the new keys only where they say something
    out = s.to_json()["surfaces"]
    assert out["noise"] == {"sigma": 0.3, "seed": 12} and out["horizon"] == 60
    assert out["runners"][0]["scheduler"] == "StepLR(gamma=0.5)"
    assert "scheduler" not in out["runners"][1]
    assert loads_session(dumps_session(s)) == s


def test_sessions_without_schedules_or_noise_are_written_as_before():
    s = loads_session(json.dumps(doc()))
    out = s.to_json()["surfaces"]
    assert "noise" not in out and "horizon" not in out
    assert all(set(r) == {"spec", "label", "visible", "start"} for r in out["runners"])
    seeded = loads_session(json.dumps(with_surfaces(noise={"sigma": 0, "seed": 4})))
    assert seeded.surfaces.to_json()["noise"] == {"sigma": 0.0, "seed": 4}
    assert loads_session(json.dumps(with_surfaces(noise=None))).surfaces.noise == 0.0


def test_unknown_keys_are_ignored_with_warnings_and_do_not_change_equality():
    d = doc(future_feature={"a": [1, 2]})
    d["surfaces"]["colour_map"] = "viridis"
    d["surfaces"]["runners"][1]["colour"] = "red"
    s = loads_session(json.dumps(d))
    assert s.warnings == (
        "ignored unknown key 'future_feature'",
        "ignored unknown key 'colour_map' in surfaces",
        "ignored unknown key 'colour' in surfaces.runners[1]",
    )
    assert s == loads_session(json.dumps(doc()))
    many = doc(**{f"k{i}": i for i in range(500)})
    warnings = loads_session(json.dumps(many)).warnings
    assert len(warnings) == 21 and warnings[-1] == "... and 480 more unknown keys ignored"


def test_loading_touches_nothing_else():
    import core.engine.optimizers
    import core.engine.surfaces

    torch_rng, numpy_rng = torch.get_rng_state(), np.random.get_state()
    registries = (dict(core.engine.optimizers.OPTIMIZERS), dict(core.engine.surfaces.SURFACES))
    for p in list_presets():
        load_preset(p.name)
    loads_session(json.dumps(with_surfaces(surface="sin(x) * y")))
    assert torch.equal(torch.get_rng_state(), torch_rng)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_rng, strict=True))
    assert registries == (
        dict(core.engine.optimizers.OPTIMIZERS),
        dict(core.engine.surfaces.SURFACES),
    )


def test_a_newer_major_version_is_refused_and_says_so():
    assert refused(doc(version=2)) == (
        "made by a newer gdsim (version 2); this gdsim reads version 1"
    )


def test_to_json_is_the_documented_shape_and_dumps_is_readable():
    s = load_preset("early-stopping")
    d = s.to_json()
    assert list(d) == ["format", "version", "title", "explanation", "view", "training"]
    assert list(d["training"]) == list(session_mod._TRAINING_FIELDS)
    text = dumps_session(s)
    assert text.endswith("}\n") and '"hidden": [128, 128]' in text
    assert json.loads(text) == d


# --------------------------------------------------------------------------------------------
# Refused documents: one line, naming the place
# --------------------------------------------------------------------------------------------

BAD_DOCUMENTS = [
    (
        with_runner(2, spec="Adam(momentum=0.9)"),
        "surfaces.runners[2].spec: Adam has no hyperparameter 'momentum'",
    ),
    (
        with_runner(0, spec="SGD(lr=nan)"),
        "surfaces.runners[0].spec: lr at column 8: 'nan' is not allowed",
    ),
    (
        with_runner(0, spec="SGD(lr=__import__('os'))"),
        "surfaces.runners[0].spec: lr at column 8: nested calls",
    ),
    (with_runner(1, spec=""), "surfaces.runners[1].spec is empty"),
    (with_runner(1, spec=3), "surfaces.runners[1].spec must be text, got a number"),
    (with_runner(1, label="a\nb"), "surfaces.runners[1].label contains a line break"),
    (with_runner(1, label="x" * 500), "surfaces.runners[1].label is too long"),
    (with_runner(1, visible="yes"), "surfaces.runners[1].visible must be true or false"),
    (with_runner(1, start=[1]), "surfaces.runners[1].start must be [x, y] or null"),
    (with_runner(1, start=[1, True]), "surfaces.runners[1].start[1] must be a number"),
    (
        with_runner(1, start=[1e300, 0]),
        "surfaces.runners[1].start: start (1e+300, 0) is too far out",
    ),
    (with_runner(1, wings=2, spec=None), "surfaces.runners[1].spec must be text, got null"),
    (with_surfaces(runners=[{"label": "x"}]), "surfaces.runners[0].spec is missing"),
    (
        with_surfaces(runners=[{"spec": "SGD"}] * (MAX_RUNNERS + 1)),
        f"surfaces.runners: {MAX_RUNNERS + 1} runners; at most {MAX_RUNNERS} are allowed",
    ),
    (with_surfaces(runners={"spec": "SGD"}), "surfaces.runners must be a list, got an object"),
    (with_surfaces(runners=["SGD"]), "surfaces.runners[0] must be an object, got text"),
    (with_surfaces(surface="x^2 + (y"), "surfaces.surface: missing ')' opened at column 7"),
    (with_surfaces(surface="z + 1"), "surfaces.surface: unknown name 'z'"),
    (with_surfaces(surface=""), "surfaces.surface is empty"),
    (with_surfaces(surface=["bowl"]), "surfaces.surface must be text, got a list"),
    (with_surfaces(start="origin"), "surfaces.start must be [x, y] or null, got text"),
    (with_surfaces(speed=0), "surfaces.speed must be between 1 and 2000 steps/s, got 0"),
    (with_surfaces(speed="fast"), "surfaces.speed must be a number, got text"),
    (with_surfaces(steps=MAX_STEPS + 1), f"surfaces.steps must be between 0 and {MAX_STEPS}"),
    (with_surfaces(steps=1.5), "surfaces.steps must be a whole number, got a number"),
    (doc(surfaces=[]), "surfaces must be an object, got a list"),
    (doc(view="training"), "view is 'training' but the 'training' section is missing"),
    (doc(view="both"), "view must be 'surfaces' or 'training', got 'both'"),
    (doc(title="two\nlines"), "title contains a line break"),
    (doc(title="\x07bell"), "title contains control character '\\x07'"),
    (doc(title=7), "title must be text, got a number"),
    (doc(explanation="x" * 5000), "explanation is too long (5000 characters; at most 2000)"),
    (doc(format="gdsim-settings"), "not a gdsim session: format is 'gdsim-settings'"),
    (doc(version="1"), "version must be a whole number >= 1"),
    (doc(version=True), "version must be a whole number >= 1"),
    (doc(version=0), "version must be a whole number >= 1"),
    ({"version": 1}, 'not a gdsim session: no "format": "gdsim-session" key'),
    ({"format": "gdsim-session"}, "version is missing"),
    ([doc()], "not a gdsim session: the document is a list, not an object"),
    (
        with_training(optimizers=["SGD", "tests.core._custom_optim:Lion"]),
        "training.optimizers[1]: optimizers given by import path",
    ),
    (with_training(optimizers=["SGD(lr=-1)"]), "training.optimizers[0]: lr must be > 0, got -1"),
    (with_training(optimizers=[]), "training.optimizers must be a non-empty list"),
    (with_training(optimizers="SGD"), "training.optimizers must be a non-empty list"),
    (with_training(hidden=[16, 0]), "training.hidden: hidden layer sizes must be 1..1024, got 0"),
    (
        with_training(hidden="16,16"),
        "training.hidden must be a list of at most 8 layer widths, got text",
    ),
    (
        with_training(hidden=[1] * 9),
        "training.hidden must be a list of at most 8 layer widths, got a list of 9",
    ),
    (with_training(hidden=[16, 16.0]), "training.hidden[1] must be a whole number"),
    (with_training(activation="swish"), "training.activation: unknown activation 'swish'"),
    (
        with_training(scheduler="StepLR(step_size=-1)"),
        "training.scheduler: StepLR step_size must be",
    ),
    (with_training(epochs=0), "training.epochs: epochs must be between 1 and"),
    (with_training(batch_size="32"), "training.batch_size must be a whole number, got text"),
    (with_training(patience=-2), "training.patience: patience must be between 1 and"),
    (with_training(val_fraction=0.95), "training.val_fraction: val_fraction must be in (0, 0.9]"),
    (with_training(samples=5), "training: samples must be between 10 and 200000, got 5"),
    (with_training(samples=10, val_fraction=0.9), "training: val_fraction 0.9 leaves fewer than 2"),
    (with_training(noise=-1), "training: noise must be between 0 and 5"),
    (with_training(seed=-1), "training: seed must be between 0 and"),
    (with_training(dataset="mnist"), "training.dataset: unknown data set 'mnist'"),
    (
        with_training(dataset="spiral", dataset_options={"arms": 99}),
        "training: arms must be between 2 and 8",
    ),
    (with_training(dataset_options={"arms": 3}), "training: data set 'moons' has no option 'arms'"),
    (
        with_training(dataset_options={"arms": "3"}),
        "training.dataset_options.arms must be a whole number",
    ),
    (with_training(device="tpu"), "training.device: unknown device 'tpu'"),
    (with_training(stop_early=1), "training.stop_early must be true or false, got a number"),
    (doc(training=[]), "training must be an object, got a list"),
    # schedules and noise (optional keys of version 1)
    (
        with_runner(0, scheduler="WarmupLR"),
        "surfaces.runners[0].scheduler: unknown scheduler 'WarmupLR'",
    ),
    (
        with_runner(0, scheduler="StepLR(step_size=0)"),
        "surfaces.runners[0].scheduler: StepLR step_size must be in [1, 1e+09], got 0",
    ),
    (
        with_runner(0, scheduler="StepLR(gamma=__import__('os'))"),
        "surfaces.runners[0].scheduler: gamma at column",
    ),
    (
        with_runner(2, spec="Adagrad(lr=0.1)", scheduler="OneCycleLR(cycle_momentum=True)"),
        "surfaces.runners[2].scheduler: OneCycleLR cycle_momentum=True needs an optimizer",
    ),
    (with_runner(0, scheduler=3), "surfaces.runners[0].scheduler must be text, got a number"),
    (with_runner(0, scheduler="a\nb"), "surfaces.runners[0].scheduler contains a line break"),
    (with_surfaces(noise=0.5), "surfaces.noise must be an object, got a number"),
    (with_surfaces(noise={"seed": 1}), "surfaces.noise.sigma is missing"),
    (
        with_surfaces(noise={"sigma": -1}),
        "surfaces.noise.sigma: gradient noise σ must be between 0 and 10000, got -1",
    ),
    (with_surfaces(noise={"sigma": 1e9}), "surfaces.noise.sigma: gradient noise σ must be"),
    (with_surfaces(noise={"sigma": "1"}), "surfaces.noise.sigma must be a number, got text"),
    (with_surfaces(noise={"sigma": 1, "seed": -3}), "surfaces.noise.seed: noise seed must be"),
    (with_surfaces(noise={"sigma": 1, "seed": 10**7}), "surfaces.noise.seed: noise seed must"),
    (with_surfaces(noise={"sigma": 1, "seed": 2.5}), "surfaces.noise.seed must be a whole number"),
    (with_surfaces(horizon=0), "surfaces.horizon: schedule horizon must be a whole number"),
    (with_surfaces(horizon=True), "surfaces.horizon must be a whole number, got true/false"),
]


@pytest.mark.parametrize(("document", "expected"), BAD_DOCUMENTS)
def test_bad_documents_are_refused_naming_the_place(document, expected):
    message = refused(document)
    assert message.startswith(expected), message


def test_a_saved_session_loses_only_the_training_values_now_refused():
    """The settings keep a session: a value refused since (a hand edit, an optimizer renamed)
    costs only itself, named in one line, where a file would be refused whole."""
    d = with_training(epochs="many", optimizers=["Adam(lr=0.02)", "NoSuchOpt()"], batch_size=8)
    s = loads_saved(json.dumps(d))
    assert s.training == TrainConfig(batch_size=8)  # epochs and optimizers: the defaults
    assert [w.split(":")[0].split(" must")[0] for w in s.warnings] == [
        "ignored training.epochs",
        "ignored training.optimizers[1]",
    ]
    assert all("\n" not in w for w in s.warnings)
    assert s.surfaces == loads_session(json.dumps(doc())).surfaces
    with pytest.raises(GdsimError, match="epochs"):
        loads_session(json.dumps(d))  # a file is still all or nothing
    with pytest.raises(GdsimError, match="surfaces.speed"):  # outside the training part
        loads_saved(json.dumps(with_surfaces(speed="fast")))


def test_a_device_absent_here_is_still_a_valid_session():
    # checked for form only: a session made on a GPU machine must open on a laptop
    s = loads_session(json.dumps(with_training(device="CUDA:1")))
    assert s.training.device == "cuda:1"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the session file is empty"),
        (b" \n\t ", "the session file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a session: the file is binary"),
        (
            '{"title": "café"}'.encode("latin-1"),
            "not a session: the file is not UTF-8 text (byte 0xe9",
        ),
        ('{"title": "x"}'.encode("utf-16"), "not a session: the file is binary"),
        (b"hello", "not valid JSON: Expecting value at line 1, column 1"),
        (
            b'{"format": "gdsim-session", "version": 1,}',
            "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 42",
        ),
        (
            b'{"format": "gdsim-session", "ver',
            "not valid JSON: the file ends too early (truncated?)",
        ),
        (b'{"format": "gdsim-session", "version": 1', "not valid JSON: the file ends too early"),
        (
            b'{"format": "gdsim-session", "version": 1, "x": NaN}',
            "not valid JSON: NaN is not allowed",
        ),
        (b'{"a": -Infinity}', "not valid JSON: -Infinity is not allowed"),
        (b'{"a": 1e999}', "not valid JSON: the number 1e999 is too large"),
        (b'{"a": ' + b"7" * 5000 + b"}", "not valid JSON: a number with 5000 digits is too long"),
        (b'{"format": "gdsim-session", "format": "x"}', "key 'format' is given twice"),
        (b"[" * 100_000 + b"]" * 100_000, f"not a session: nested more than {MAX_DEPTH} levels"),
        (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "not a session: nested more"),
        (b'"just a string"', "not a gdsim session: the document is text"),
        (
            b'{"format": "gdsim-session", "version": 1, "title": "\\ud800"}',
            "title contains an invalid character",
        ),
    ],
)
def test_broken_files_are_refused_in_one_line(content, expected):
    message = refused(content)
    assert message.startswith(expected), message


def test_a_byte_order_mark_is_accepted():
    assert loads_session(b"\xef\xbb\xbf" + json.dumps(doc()).encode()) == loads_session(
        json.dumps(doc())
    )


def test_every_truncation_of_a_preset_is_refused():
    text = dumps_session(load_preset("saddle-escape"))
    end = text.rindex("}")
    for cut in range(0, end, 7):
        message = refused(text[:cut])
        assert message.startswith(("the session file is empty", "not valid JSON")), message


def test_an_import_path_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "gdsim_evil_optim.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Evil: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    def no_eval(*args, **kwargs):
        raise AssertionError("eval/exec called while loading a session")

    monkeypatch.setattr("builtins.eval", no_eval)
    monkeypatch.setattr("builtins.exec", no_eval)
    for spec in (
        "gdsim_evil_optim:Evil",
        "gdsim_evil_optim:Evil(lr=0.1)",
        " gdsim_evil_optim : Evil",
    ):
        assert "import path" in refused(with_runner(0, spec=spec))
        assert "import path" in refused(with_training(optimizers=[spec]))
    for spec in ("gdsim_evil_optim.Evil", "gdsim_evil_optim.Evil(lr=0.1)"):
        assert "is not allowed; write the bare name" in refused(with_runner(0, spec=spec))
    assert "unknown optimizer 'Evil'" in refused(with_runner(0, spec="Evil(lr=0.1)"))
    assert not marker.exists() and "gdsim_evil_optim" not in sys.modules


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def test_save_then_load_gives_an_equal_session(tmp_path):
    s = loads_session(json.dumps(doc(training={"hidden": [4], "optimizers": ["SGD", "Adam"]})))
    path = tmp_path / "lecture.gdsim.json"
    save_session(s, path)
    assert load_session(path) == s
    assert load_session(str(path)) == s
    assert path.read_text(encoding="utf-8") == dumps_session(s)


def test_missing_folder_and_odd_files_are_refused_in_one_line(tmp_path, monkeypatch):
    cases = [
        (tmp_path / "nope.json", "cannot open session"),
        (tmp_path, "it is a folder"),
        (str(tmp_path / "a\0b"), "cannot open session"),
    ]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening a fifo would block until a writer comes: never opened
    forbid_opening(monkeypatch, fifo)  # an attempt fails at once instead of hanging
    cases.append((fifo, "not a regular file"))
    for path, expected in cases:
        with pytest.raises(GdsimError) as info:
            load_session(path)
        assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(10 * 2**30)  # a sparse 10 GB file: reading it would take minutes

    def no_open(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(session_mod, "open", no_open, raising=False)
    with pytest.raises(GdsimError, match=r"too large \(10,737,418,240 bytes; at most 1,000,000\)"):
        load_session(path)
    monkeypatch.undo()
    # just over the cap, and content over the cap given directly
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(GdsimError, match="too large"):
        load_session(path)
    with pytest.raises(GdsimError, match="too large"):
        loads_session(b"{" + b" " * MAX_FILE_BYTES + b"}")


def test_a_failed_save_keeps_the_existing_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "session.json"
    path.write_text("precious")
    s = load_preset("saddle-escape")

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core.files.atomic.os, "fsync", full_disk)  # the write itself fails
    with pytest.raises(GdsimError, match="cannot write session .*No space left on device"):
        save_session(s, path)
    monkeypatch.undo()
    monkeypatch.setattr(core.files.atomic.os, "replace", full_disk)  # the final rename fails
    with pytest.raises(GdsimError, match="No space left on device"):
        save_session(s, path)
    monkeypatch.undo()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(core.files.atomic.tempfile, "mkstemp", read_only)
    with pytest.raises(GdsimError, match="Read-only file system"):
        save_session(s, path)
    monkeypatch.undo()
    assert path.read_text() == "precious"
    assert os.listdir(tmp_path) == ["session.json"]


@contextlib.contextmanager
def _as_nobody():
    """Run the block with an unprivileged effective uid (root ignores folder permissions)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_saving_into_a_read_only_folder_is_refused_and_changes_nothing():
    folder = tempfile.mkdtemp(prefix="gdsim-ro-")
    path = os.path.join(folder, "session.json")
    try:
        with open(path, "w") as fh:
            fh.write("precious")
        os.chmod(path, 0o644)
        os.chmod(folder, 0o555)
        with _as_nobody():
            with pytest.raises(GdsimError, match="cannot write"):
                save_session(load_preset("saddle-escape"), path)
            assert open(path).read() == "precious"
        assert os.listdir(folder) == ["session.json"]
    finally:
        os.chmod(folder, 0o755)
        os.unlink(path)
        os.rmdir(folder)


def test_an_invalid_session_is_never_written(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("precious")
    bad = [
        Session(view="training", surfaces=SurfacesState("bowl")),  # no training section
        Session(surfaces=SurfacesState("bowl", runners=(RunnerState("Adam(momentum=0.9)"),))),
        Session(surfaces=SurfacesState("bowl", start=(float("nan"), 0.0))),
        Session(title="a\nb", surfaces=SurfacesState("bowl")),
    ]
    for s in bad:
        with pytest.raises(GdsimError):
            save_session(s, path)
    assert path.read_text() == "precious"
    with pytest.raises(TypeError):
        save_session(load_preset("saddle-escape").to_json(), path)


# --------------------------------------------------------------------------------------------
# Presets: listed, well formed, packaged
# --------------------------------------------------------------------------------------------


def test_presets_are_listed_in_menu_order_with_their_explanations():
    presets = list_presets()
    assert len(presets) >= 8
    names = [p.name for p in presets]
    assert len(set(names)) == len(names)
    assert names[0] == "ravine-momentum"
    files = sorted(f for f in os.listdir(PRESETS_DIR) if f.endswith(".json"))
    assert [re.sub(r"^\d+-", "", f[:-5]) for f in files] == names
    for p in presets:
        sentences = len(re.findall(r"[.!?](\s|$)", p.explanation))
        assert 2 <= sentences <= 4, (p.name, sentences)
        assert p.title and len(p.title) <= 60 and p.view in ("surfaces", "training")
        s = load_preset(p.name)
        assert s.title == p.title and s.warnings == ()
        assert getattr(s, p.view) is not None
        if p.view == "training":
            assert s.training.device == "auto"  # a preset must run on any machine


def test_preset_files_are_exactly_what_dumps_writes():
    # so a preset edited by hand stays in the canonical form a saved session has
    for name in os.listdir(PRESETS_DIR):
        with open(os.path.join(PRESETS_DIR, name), encoding="utf-8") as fh:
            text = fh.read()
        assert dumps_session(loads_session(text)) == text, name


def test_load_preset_by_name_and_unknown_names():
    assert load_preset("Saddle_Escape") == load_preset("saddle-escape")
    with pytest.raises(GdsimError, match=r"unknown preset 'nope' \(choose from: ravine-momentum, "):
        load_preset("nope")
    with pytest.raises(GdsimError, match="must be text"):
        load_preset(None)


def test_a_preset_by_the_start_of_its_name_or_its_number():
    names = [info.name for info in list_presets()]
    assert load_preset("saddle") == load_preset("saddle-escape")
    assert load_preset("Himmelblau") == load_preset("himmelblau-four-minima")
    assert load_preset("3") == load_preset("03") == load_preset(names[2])  # the menu's order
    assert preset_name("saddle") == "saddle-escape" and preset_name("3") == names[2]
    with pytest.raises(GdsimError, match="could be any of: saddle-escape, small-batches, sched"):
        load_preset("s")  # ambiguous: says which, loads none
    with pytest.raises(GdsimError, match="unknown preset '99'"):
        load_preset("99")
    with pytest.raises(GdsimError, match="unknown preset ''"):
        load_preset("  ")


def test_a_preset_by_its_file_name():
    for info, file in zip(list_presets(), sorted(os.listdir(PRESETS_DIR)), strict=True):
        assert preset_name(file) == preset_name(file.removesuffix(".json")) == info.name
    assert load_preset("07-Plateau_Adaptive") == load_preset("plateau-adaptive")
    with pytest.raises(GdsimError, match="unknown preset '03-plateau-adaptive'"):
        load_preset("03-plateau-adaptive")  # another preset's number: not a file name


# --------------------------------------------------------------------------------------------
# Presets: each one shows what it claims (the explanation is read out in lectures)
# --------------------------------------------------------------------------------------------


def preset_race(name, steps):
    race = load_preset(name).surfaces.build_race(history=None)
    race.step(steps)
    return race


def gradient(surface, point):
    p = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    get_surface(surface)(p).backward()
    return float(p.grad.norm())


def first_within(runner: Runner, target, tol):
    d = np.hypot(*(runner.trail.points() - np.asarray(target)).T)
    hits = np.nonzero(d < tol)[0]
    return int(hits[0]) if len(hits) else None


def test_ravine_sgd_zigzags_and_momentum_arrives_three_times_sooner():
    big, small, momentum = preset_race("ravine-momentum", 150).runners
    y = big.trail.points()[:31, 1]
    assert np.all(np.sign(y[1:]) == -np.sign(y[:-1]))  # across the ravine on every step
    assert np.all(small.trail.points()[:, 1] > 0)  # smaller steps: no zig-zag ...
    k_big, k_small, k_momentum = (first_within(r, (0, 0), 0.01) for r in (big, small, momentum))
    assert k_small > k_big  # ... but slower
    assert 2.5 * k_momentum <= min(k_big, k_small), (k_big, k_small, k_momentum)


def test_too_high_a_learning_rate_diverges_while_smaller_ones_settle():
    race = preset_race("learning-rate-too-high", 200)
    glide, overshoot, wild = race.runners
    for r in (glide, overshoot):
        assert r.status == "ok" and np.hypot(*r.point) < 1e-6
    x = overshoot.trail.points()[:20, 0]
    assert np.all(np.sign(x[1:]) == -np.sign(x[:-1]))  # overshoots every step, yet settles
    assert np.all(glide.trail.points()[:20, 0] < 0)  # never crosses
    assert wild.status == "diverged" and wild.diverged_at < 100
    d = np.hypot(*wild.trail.points().T)
    assert np.all(np.diff(d) > 0)  # every overshoot bigger than the last


def test_saddle_the_ridge_runner_stays_and_the_offset_runners_escape():
    ridge, sgd, adam = preset_race("saddle-escape", 500).runners
    assert ridge.start == (-1.8, 0.0) and sgd.start == adam.start == (-1.8, 0.001)
    assert np.all(ridge.trail.points()[:, 1] == 0.0)
    assert np.hypot(*ridge.point) < 1e-3 and gradient("saddle", ridge.point) < 1e-3
    escaped = []
    for r in (sgd, adam):
        ys = np.abs(r.trail.points()[:, 1])
        assert ys[-1] > 2.0  # slid off the view along y
        escaped.append(int(np.nonzero(ys > 2.0)[0][0]))
    assert escaped[1] < escaped[0]  # Adam first


def test_rosenbrock_sgd_finds_the_valley_fast_and_then_adam_overtakes():
    race = load_preset("rosenbrock-adam-vs-sgd").surfaces.build_race(history=None)
    sgd, adam = race.runners
    start_loss = sgd.loss
    race.step(50)
    assert sgd.loss < 0.2 * start_loss  # into the valley within a few dozen steps
    race.step(650)
    assert np.hypot(adam.point[0] - 1, adam.point[1] - 1) < 0.1
    assert np.hypot(sgd.point[0] - 1, sgd.point[1] - 1) > 1.0 and sgd.loss > 1.0


def test_himmelblau_each_start_ends_in_a_different_minimum():
    race = preset_race("himmelblau-four-minima", 300)
    minima = get_surface("himmelblau").minima
    reached = []
    for r in race.runners:
        d = [np.hypot(r.point[0] - m.x, r.point[1] - m.y) for m in minima]
        assert min(d) < 1e-6
        reached.append(int(np.argmin(d)))
    assert sorted(reached) == [0, 1, 2, 3]
    assert len({r.spec for r in race.runners}) == 1  # the same optimizer: only the start differs


def test_rastrigin_traps_every_runner_in_the_nearest_dimple_or_keeps_it_bouncing():
    race = preset_race("rastrigin-traps", 400)
    *trapped, bouncing = race.runners
    for r in trapped:
        assert gradient("rastrigin", r.point) < 1e-5  # stopped: a local minimum
        assert 17 < r.loss < 19 and np.hypot(*r.point) > 4
        assert np.allclose(r.point, trapped[0].point, atol=1e-6)  # the same dimple
    assert np.hypot(*np.subtract(trapped[0].point, (3.2, -2.6))) < 0.5  # the one by the start
    # lr x the dimple's curvature (~397) is far above 2: no dimple is a stable point for it, so
    # it bounces from wall to wall on any CPU (not a chaotic transient that may happen to settle)
    recent = bouncing.trail.points()[-100:]
    assert np.abs(np.diff(recent, axis=0)).sum() > 1.0  # still moving after 300 steps
    assert min(gradient("rastrigin", tuple(p)) for p in recent) > 1.0  # never at rest
    assert bouncing.trail.losses()[-100:].min() > 17


def test_plateau_sgd_stalls_and_adam_walks_into_the_pit():
    race = preset_race("plateau-adaptive", 300)
    sgd, momentum, adam = race.runners
    assert gradient("plateau", sgd.start) < 1e-4
    for r in (sgd, momentum):
        assert np.hypot(*np.subtract(r.point, r.start)) < 0.01
    assert np.hypot(*adam.point) < 0.01


def _train(name, epochs, **changes):
    config = dataclasses.replace(load_preset(name).training, device="cpu", epochs=epochs, **changes)
    engine = TrainingEngine(config)
    engine.run()
    update = engine.drain()
    return engine, update


def test_small_batches_are_noisy_but_beat_the_full_batch_per_epoch():
    small = load_preset("small-batches").training
    full = load_preset("full-batch").training
    assert dataclasses.replace(small, batch_size=full.batch_size) == full  # only that differs
    e_small, u_small = _train("small-batches", 2)
    e_full, u_full = _train("full-batch", 20)
    assert e_small.batches_per_epoch == 100 and e_full.batches_per_epoch == 1
    jitter_small = np.std(np.diff(u_small.curves[0].losses))
    jitter_full = np.std(np.diff(u_full.curves[0].losses))
    assert jitter_small > 20 * jitter_full
    val_small = [e.val_loss for e in u_small.events if isinstance(e, EpochEnd)][-1]
    val_full = [e.val_loss for e in u_full.events if isinstance(e, EpochEnd)][-1]
    assert val_small < 0.6 * val_full  # two epochs of small batches beat twenty full ones


def test_early_stopping_fires_after_validation_loss_turns_up():
    config = load_preset("early-stopping").training
    assert config.patience == 5 and not config.stop_early
    n_train = round(config.samples * (1 - config.val_fraction))
    weights = sum(
        p.numel()
        for p in TrainingEngine(dataclasses.replace(config, device="cpu", epochs=1))
        .lanes[0]
        .model.parameters()
    )
    assert n_train == 48 and 16_000 < weights < 18_000  # as the explanation says
    _, update = _train("early-stopping", 30)
    epochs = [e for e in update.events if isinstance(e, EpochEnd)]
    (stop,) = [e for e in update.events if isinstance(e, EarlyStop)]
    assert 5 <= stop.best_epoch <= 20  # the validation loss fell first ...
    assert stop.epoch == stop.best_epoch + config.patience
    best, at_stop, last = epochs[stop.best_epoch - 1], epochs[stop.epoch - 1], epochs[-1]
    assert at_stop.val_loss > best.val_loss  # ... then turned up
    assert at_stop.train_loss < best.train_loss and last.train_loss < at_stop.train_loss
    assert last.val_loss > 1.5 * best.val_loss  # learning the noise


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

_PRESET_DOCS = [load_preset(p.name).to_json() for p in list_presets()]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_documents(draw):
    """A preset's document with one value replaced, deleted, or a key added somewhere."""
    d = json.loads(json.dumps(draw(st.sampled_from(_PRESET_DOCS))))
    paths = [p for p in _paths(d) if p]
    path = draw(st.sampled_from(paths))
    parent = d
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(json_values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=10))] = draw(json_values)
    else:
        parent.append(draw(json_values))
    return d


def _loads_or_refuses(content):
    try:
        result = loads_session(content)
    except GdsimError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return None
    assert isinstance(result, Session)
    return result


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_load_or_are_refused_with_a_message(data):
    _loads_or_refuses(data)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace")))
def test_any_file_content_loads_or_is_refused(data):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "s.json")
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            load_session(path)
        except GdsimError as exc:
            assert "\n" not in str(exc)


@FAST
@given(st.text(max_size=300))
def test_any_text_loads_or_is_refused_with_a_message(text):
    _loads_or_refuses(text)


@FAST
@given(json_values)
def test_any_json_document_loads_or_is_refused(value):
    _loads_or_refuses(json.dumps(value))
    _loads_or_refuses(json.dumps({"format": "gdsim-session", "version": 1, "surfaces": value}))


@FAST
@given(mutated_documents())
def test_any_mutation_of_a_preset_loads_or_is_refused(document):
    result = _loads_or_refuses(json.dumps(document))
    if result is not None:  # what loads also saves and loads back the same
        assert loads_session(dumps_session(result)) == result


SPECS = [
    "SGD",
    "SGD(momentum=0.9, nesterov=True)",
    "Adam(betas=(0.8, 0.99))",
    "RMSprop",
    "Adagrad",
    "LBFGS",
]
safe_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


SCHEDULER_TEXTS = [
    None,
    "StepLR(step_size=5, gamma=0.5)",
    "OneCycleLR()",
    "MultiStepLR(milestones=[3, 9])",
    "CyclicLR(mode='triangular2')",
    "ReduceLROnPlateau(patience=2)",
]


@st.composite
def runner_states(draw):
    spec = parse_spec(draw(st.sampled_from(SPECS))).with_changes(lr=draw(st.floats(1e-5, 10.0)))
    label = draw(st.none() | safe_text.map(str.strip).filter(bool))
    start = draw(st.none() | st.tuples(st.floats(-10, 10), st.floats(-10, 10)))
    scheduler = draw(st.sampled_from(SCHEDULER_TEXTS))
    return RunnerState(spec_text(spec), label, draw(st.booleans()), start, scheduler)


surfaces_states = st.builds(
    SurfacesState,
    surface=st.sampled_from([*surface_names(), "x^2 + sin(3*y)", "log(1 + x^2) * y^2"]),
    start=st.none() | st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),
    runners=st.lists(runner_states(), max_size=MAX_RUNNERS).map(tuple),
    speed=st.floats(1.0, 2000.0),
    steps=st.integers(0, MAX_STEPS),
    noise=st.just(0.0) | st.floats(0.0, MAX_NOISE),
    seed=st.integers(0, MAX_SEED),
    horizon=st.integers(1, MAX_HORIZON),
)

train_configs = st.builds(
    TrainConfig,
    dataset=st.sampled_from(["moons", "circles", "xor", "spiral(arms=4)", "blobs"]),
    samples=st.integers(10, 500),
    noise=st.none() | st.floats(0.0, 5.0),
    val_fraction=st.floats(0.01, 0.5),
    hidden=st.lists(st.integers(1, 64), max_size=3).map(tuple),
    activation=st.sampled_from(["relu", "tanh", "gelu"]),
    optimizers=st.lists(st.sampled_from(SPECS[:5]), min_size=1, max_size=3).map(tuple),
    scheduler=st.sampled_from([None, "StepLR(step_size=5, gamma=0.5)", "OneCycleLR"]),
    epochs=st.integers(1, 1000),
    batch_size=st.integers(1, 512),
    device=st.sampled_from(["auto", "cpu", "cuda", "cuda:1", "mps"]),
    seed=st.integers(0, 2**63 - 1),
    patience=st.none() | st.integers(1, 100),
    stop_early=st.booleans(),
)


def _clean(text):
    """What the format allows in an explanation: no control characters but tab and newline."""
    return "".join(
        c for c in text if c in "\t\n" or (c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF)
    )


@st.composite
def sessions(draw):
    view = draw(st.sampled_from(["surfaces", "training"]))
    surfaces = draw(surfaces_states if view == "surfaces" else st.none() | surfaces_states)
    training = draw(train_configs if view == "training" else st.none() | train_configs)
    explanation = draw(st.text(max_size=200).map(_clean))
    return Session(draw(safe_text), explanation, view, surfaces, training)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_save_then_load_round_trips_any_session(session):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "s.json")
        save_session(session, path)
        assert load_session(path) == session


def test_schedules_and_noise_big_steps_bounce_small_steps_crawl_the_schedule_gets_both():
    race = load_preset("schedules-and-noise").surfaces.build_race(history=None)
    assert race.noise == 3.0
    race.step(1000)
    big, small, scheduled = (r.trail.losses() for r in race.runners)

    def arrival(losses):
        return int(np.argmax(losses < 0.1))

    assert arrival(big) < 100 and arrival(scheduled) < 100 < 300 < arrival(small)
    assert small[250:350].mean() > 0.2 > 0.05 > scheduled[250:350].mean()
    assert scheduled[-100:].mean() < big[-100:].mean() / 10  # "dozens of times lower"
    assert scheduled[-100:].mean() < small[-100:].mean()
    lrs = race.runners[2].lr_series()[1]
    assert lrs[199] == 0.02 and lrs[200] == pytest.approx(0.006) and lrs[-1] < 1e-4
    quiet = load_preset("schedules-and-noise").surfaces
    quiet = dataclasses.replace(quiet, noise=0.0).build_race(history=None)
    quiet.step(300)
    assert quiet.runners[0].loss < 1e-6  # without noise, big steps alone glide in


HUGE = "1" + "0" * 400  # a whole number beyond every float (309+ digits)


@pytest.mark.parametrize(
    "where, value, words",
    [
        ("runner", f"SGD(lr={HUGE})", "surfaces.runners[0].spec: lr is too large"),
        ("runner", f"Adam(betas=(0.9, {HUGE}))", "surfaces.runners[0].spec: betas[1] must be"),
        ("schedule", f"StepLR(gamma={HUGE})", "StepLR gamma must be in (0, 1]"),
        ("training", f"SGD(lr={HUGE})", "training.optimizers[0]: lr is too large"),
    ],
)
def test_a_huge_whole_number_in_a_float_field_is_refused_naming_it(where, value, words):
    d = doc()
    if where == "runner":
        d["surfaces"]["runners"][0]["spec"] = value
    elif where == "schedule":
        d["surfaces"]["runners"][0]["scheduler"] = value
    else:
        d = doc(view="training", surfaces=None, training={"hidden": [4], "optimizers": [value]})
    with pytest.raises(GdsimError) as info:  # not OverflowError
        loads_session(json.dumps(d))
    assert words in str(info.value) and "(401 digits)" in str(info.value)
    assert len(str(info.value)) < 160


@pytest.mark.parametrize("key", ["\n", "a\r\nb", "x\u2028y"])
def test_a_key_with_a_line_break_is_quoted_in_a_one_line_message(key):
    """Found by the preset mutation fuzz: a dataset_options key "\\n" split the message in two."""
    d = doc(view="training", surfaces=None, training={"hidden": [4], "dataset_options": {key: "x"}})
    with pytest.raises(GdsimError) as info:
        loads_session(json.dumps(d))
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert f"training.dataset_options.{key.encode('unicode_escape').decode()}" in message


def test_a_refused_file_says_cannot_open_once(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(GdsimError) as info:
        load_session(fifo)
    assert str(info.value) == f"cannot open session {fifo}: not a regular file"


def test_a_fifo_swapped_in_after_the_check_cannot_block_the_open(tmp_path):
    """Between the check and the open a fifo may take the file's place: the open does not wait
    for a writer (O_NONBLOCK), and the open file is checked again. A subprocess: if the open
    blocked, the timeout ends it and not the suite."""
    fifo = tmp_path / "swapped.json"
    os.mkfifo(fifo)
    regular = tmp_path / "regular.json"
    regular.write_text("{}")
    code = (
        "import os, sys\n"
        "from core.errors import GdsimError\n"
        "from core.files.session import load_session\n"
        "real_stat = os.stat\n"
        "os.stat = lambda p, *a, **k: real_stat(sys.argv[2] if os.fspath(p) == sys.argv[1] else p)\n"
        "try:\n"
        "    load_session(sys.argv[1])\n"
        "except GdsimError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(fifo), str(regular)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert out.stdout.strip() == f"cannot open session {fifo}: not a regular file", out.stderr


COMPOSED = (
    "SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=3),"
    " LambdaLR(lr_lambda='0.9 ^ epoch')], milestones=[4])"
)


@pytest.mark.parametrize(
    "text",
    [COMPOSED, "ChainedScheduler", "MultiplicativeLR(lr_lambda='0.95')", "PolynomialLR(power=2)"],
)
def test_new_schedulers_round_trip_through_a_session_and_build_the_same_race(text):
    d = with_surfaces(horizon=20, steps=12)
    d["surfaces"]["runners"][0]["scheduler"] = text
    s = loads_session(json.dumps(d))
    again = loads_session(dumps_session(s))
    assert again == s
    a = again.surfaces.build_race(history=None).runners[0]
    ref = Race("bowl", start=(1.0, 2.0), history=None, horizon=20)
    ra = ref.add("SGD(lr=0.1)", scheduler=text)
    ref.step(12)
    assert np.array_equal(a.lr_series()[1], ra.lr_series()[1])
    assert len(set(ra.lr_series()[1].tolist())) > 1


def test_a_training_session_keeps_a_composed_scheduler():
    s = loads_session(json.dumps(with_training(scheduler=COMPOSED)))
    assert loads_session(dumps_session(s)).training.scheduler_spec() == s.training.scheduler_spec()
    assert [p.name for p in s.training.scheduler_spec().parts] == ["LinearLR", "LambdaLR"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LambdaLR(lr_lambda='epoch +')", "LambdaLR lr_lambda: unexpected end of expression"),
        ("LambdaLR(lr_lambda='x')", "LambdaLR lr_lambda: unknown name 'x' at column 1"),
        ("SequentialLR(schedulers=[ReduceLROnPlateau])", "cannot contain ReduceLROnPlateau"),
        ("ChainedScheduler(schedulers=[SequentialLR])", "cannot contain SequentialLR"),
        ("SequentialLR(schedulers=[StepLR, StepLR], milestones=[2, 3])", "one milestone fewer"),
        ("StepLR(schedulers=[StepLR])", "StepLR has no argument 'schedulers'"),
        ("SequentialLR(schedulers=3)", "schedulers must be a list of scheduler SPECs"),
    ],
)
def test_bad_new_schedulers_are_refused_with_one_line(text, message):
    assert message in refused(with_runner(0, scheduler=text))
