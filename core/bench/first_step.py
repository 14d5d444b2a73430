"""Time to the first step, as a user waits for it: a fresh process, the imports, the first
optimizer built (torch.optim then imports ``torch._dynamo``) and one step taken.

gdsim's path (``Race`` from ``core.engine``) against a bare process doing the same with torch
alone, in interleaved pairs of fresh interpreters: ``python -m core.bench.first_step [pairs]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from core.bench.stats import paired

TARGET_RATIO = 1.15  # gdsim's time / the bare process's, at most

GDSIM = """
import os
from core.engine.race import Race
from core.engine.surfaces import get_surface
surface = get_surface("rosenbrock")
race = Race(surface, start=surface.start)
race.add("Adam(lr=0.01)")
race.step(1)
os._exit(0)
"""

BARE = """
import os, torch
p = torch.nn.Parameter(torch.tensor([-1.2, 1.0], dtype=torch.float64))
opt = torch.optim.Adam([p], lr=0.01)
opt.zero_grad()
x, y = p[0], p[1]
((1 - x) ** 2 + 100 * (y - x * x) ** 2).backward()
opt.step()
os._exit(0)
"""


def _run(code: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("GDSIM_TORCH_THREADS", "1")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def bench_first_step(pairs: int = 7) -> dict[str, Any]:
    """Seconds from process start to the first step taken, gdsim and bare (medians), and
    ``ratio``/``q1``/``q3`` of gdsim's time over bare's per pair."""
    _run(BARE)  # warm the file cache for both
    _run(GDSIM)
    raw = paired(lambda: _run(GDSIM), {"bare": lambda: _run(BARE)}, pairs)
    bare = raw["bare"]
    # paired() reports the other's time over gdsim's; a slower gdsim is a larger ratio here
    return {
        "gdsim_s": raw["gdsim_ms"] / 1e3,
        "bare_s": bare["ms"] / 1e3,
        "ratio": 1 / bare["ratio"],
        "q1": 1 / bare["q3"],
        "q3": 1 / bare["q1"],
        "pairs": pairs,
    }


if __name__ == "__main__":
    print(bench_first_step(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
