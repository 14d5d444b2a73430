"""`gdsim bench` runs and its JSON holds every figure (values are the benchmark's business, not
the test's: the machine is shared and noisy, so nothing here looks at a number's size)."""

import json
import math
import sys

import app.bench.cli as bench
from app.main import main
from core.bench.stats import verdict
from core.engine.optimizers import optimizer_names
from core.engine.surfaces import SURFACES


def test_bench_writes_every_figure(tmp_path, monkeypatch, capsys):
    smoke = bench.PROFILES["smoke"]
    monkeypatch.setitem(bench.PROFILES, "quick", smoke)  # tiny trials
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
        | {f"landscape {smoke['landscape_n']}x{smoke['landscape_n']}, hidden 64"}
        | {f"basins {smoke['basins_n']}x{smoke['basins_n']}, Adam(lr=0.05)"}
        | {f"training cpu batch {b}{s}" for b in (32, 128) for s in ("", ", fused limit")}
        | {
            "GUI tick p50 while training",
            "GUI tick p99 while training",
            "training, window live vs bare",
            "GUI turn p99, 8 optimizers racing",
            "window race rate / headless, 8 opt.",
            "drawing, share of a core at speed 100",
        }
        | {
            f"longest stall, {a}"
            for a in (
                "first switch to Training", "preset load", "session open", "theme switch",
                "zoom step",
            )  # fmt: skip
        }
        | {f"start-up, {how}" for how in ("first start", "saved settings", "session file")}
        | {"quit after racing", "quit after training", "time to first step (fresh process)"}
    )
    memory = doc["details"]["memory"]
    expected.add(f"training in the window, RSS over {memory['epochs']:,} epochs")
    assert memory["epochs"] >= smoke["memory_epochs"]
    if doc["details"]["window"]["x_tick_latency"] is not None:  # DISPLAY names an X server
        expected.add("GUI tick p99 while training, X display")
    assert figures == expected
    for row in doc["rows"]:
        grows = row["unit"] == "B/epoch"  # memory growth may be 0 (or < 0) in a short run
        assert math.isfinite(row["value"]) and (grows or row["value"] > 0), row
        assert row["met"] in (True, False, None)
        assert row["figure"] in printed  # the table shows every row
    # the landscape and basins figures carry their limit, printed under them
    limits = {row["figure"].split()[0]: row["limit"] for row in doc["rows"] if row["limit"]}
    assert set(limits) == {"landscape", "basins"}
    for limit in limits.values():
        assert math.isfinite(limit["value"]) and limit["value"] > 0
        assert limit["met"] in (True, False) and limit["target"].startswith("ratio >= 0.8")
        assert f"limit: {limit['name']}" in printed
    assert "missed their target" in printed and "unsure" in printed
    faults = doc["details"]["basins"]["page_faults"]  # the malloc regression this would show
    assert faults is None if sys.platform == "win32" else faults >= 0


def test_a_spread_that_straddles_the_target_is_unsure():
    at_least = bench._at_least(0.85)
    assert verdict(at_least, 0.9, 0.8, 0.95) == {"met": True, "unsure": True}
    assert verdict(at_least, 0.9, 0.86, 0.95) == {"met": True, "unsure": False}
    assert verdict(at_least, 0.7, 0.6, 0.84) == {"met": False, "unsure": False}
    row = bench.Row("x", 1.0, "ms", 2.0, 0.9, "ratio >= 0.85", True, "IQR 0.80-0.95", True)
    result = {
        "machine": {"cpus": 2, "torch": "t", "torch_threads": 1, "python": "p", "load_average": 0},
        "profile": "quick",
        "device": "cpu",
        "rows": [bench.asdict(row)],
        "errors": {},
        "seconds": 1.0,
    }
    table = bench.format_table(result)
    assert "unsure IQR 0.80-0.95" in table
    assert "1 figure(s) unsure (their spread straddles the target): x" in table
    assert "0 figure(s) missed" in table


def test_bench_refuses_a_missing_device(capsys):
    assert main(["bench", "--quick", "--device", "cuda:7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cuda:7" in err
