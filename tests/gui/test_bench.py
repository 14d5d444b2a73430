"""`gdsim bench` runs and its JSON holds every figure (values are the benchmark's business, not
the test's: the machine is shared and noisy, so nothing here looks at a number's size)."""

import json
import math

import app.bench as bench
from app.main import main
from core.engine.optimizers import optimizer_names
from core.engine.surfaces import SURFACES


def test_bench_writes_every_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(bench.PROFILES, "quick", bench.PROFILES["smoke"])  # tiny trials
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--device", "cpu", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["errors"] == {}
    figures = {row["figure"] for row in doc["rows"]}
    expected = (
        {f"race step {name}" for name in optimizer_names()}
        | {f"swarm {n:,} points" for n in (1, 100, 10_000, 100_000)}
        | {f"grid 500x500 {name}" for name in SURFACES}
        | {"training cpu batch 32", "training cpu batch 128"}
        | {
            "GUI tick p50 while training",
            "GUI tick p99 while training",
            "training, window live vs bare",
            "frame, 8 optimizers racing",
        }
        | {f"longest stall, {a}" for a in ("preset load", "session open", "theme switch",
                                            "zoom step")}
        | {f"start-up, {how}" for how in ("first start", "saved settings", "session file")}
        | {"quit after racing", "quit after training"}
    )
    assert figures == expected
    for row in doc["rows"]:
        assert math.isfinite(row["value"]) and row["value"] > 0, row
        assert row["met"] in (True, False, None)
        assert row["figure"] in printed  # the table shows every row
    assert "missed their target" in printed


def test_bench_refuses_a_missing_device(capsys):
    assert main(["bench", "--quick", "--device", "cuda:7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cuda:7" in err
