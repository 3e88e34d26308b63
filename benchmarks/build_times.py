"""Build benchmarks: cold and warm builds as a user runs them (``nmlc build`` in a new process), and the
front end's time per model.

Every build runs in its own process with its own empty cache folder (``NMLC_CACHE_DIR``), so nothing
is reused that a user's first build would not have. Besides the wall time, the CPU time of the build
process and its compilers is recorded: on a shared machine the wall time of a build includes waiting
for the other processes, its CPU time does not.
"""
from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def nmlc_build(files: list[Path], cache: Path) -> tuple[float, float]:
    """Run ``nmlc build FILES`` in a new process with ``cache`` as cache folder: (wall s, CPU s)."""
    env = {**os.environ, "NMLC_CACHE_DIR": str(cache)}
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nmlc.cli", "build", *map(str, files)], env=env,
                          capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"nmlc build failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall, _children_cpu() - cpu0


def build_rows(one: Path, warmup: list[Path], library: list[Path], repeats: int) -> list[dict]:
    """Cold build of ``one`` (with and without nmlc's per-toolchain support files), warm rebuild, library."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="nmlc-bench-") as tmp:
        tmp = Path(tmp)
        # first build into an empty cache: also builds the NEST adapter and the precompiled core header
        first = nmlc_build([one], tmp / "first")
        # cold builds of a model with the support files present (built once per toolchain): the
        # support folders are kept, the module cache is emptied before each build
        base = tmp / "cold"
        nmlc_build(warmup, base)
        cold = []
        for _ in range(repeats):
            shutil.rmtree(base / "modules", ignore_errors=True)
            cold.append(nmlc_build([one], base))
        warm = [nmlc_build([one], base) for _ in range(repeats)]
        shutil.rmtree(base / "modules", ignore_errors=True)
        lib = nmlc_build(library, base)
        lib_empty = nmlc_build(library, tmp / "library")
    rows.append(_row(f"cold build of one neuron ({one.stem}), nmlc's support files present", cold, 5.0))
    rows.append(_row(f"cold build of the whole library ({len(library)} models, one module), support files present",
                     [lib], 60.0))
    rows.append(_row("warm rebuild, nothing changed (new process)", warm, 1.0))
    # the support files (precompiled headers, nmlc's NEST adapter) are built once per toolchain: the
    # first build on a machine pays for them
    rows.append(_row("first build on a machine: one neuron into an empty cache (support files built too)",
                     [first], None))
    rows.append(_row("first build on a machine: the whole library into an empty cache", [lib_empty], None))
    return rows


def _row(name: str, samples: list[tuple[float, float]], target: float | None) -> dict:
    walls = [w for w, _ in samples]
    cpus = [c for _, c in samples]
    row = {"benchmark": name, "seconds": min(walls), "seconds_median": statistics.median(walls),
           "cpu_seconds": min(cpus), "runs": len(samples), "all": walls}
    if target is not None:
        row["target"] = target
        row["meets_target"] = min(walls) <= target
    return row


def front_end_row(models: list[Path]) -> dict:
    """Mean time of parse, check, IR, analysis and C++ rendering per model, in one warm process."""
    from nmlc.diagnostics import Diagnostics
    from nmlc.frontend import compile_models

    compile_models([models[0]], Diagnostics(), "nmlc_bench", "_nestml")  # imports, grammar: once per process
    times = []
    for m in models:
        t0 = time.perf_counter()
        compile_models([m], Diagnostics(), "nmlc_bench", "_nestml")
        times.append(time.perf_counter() - t0)
    slowest = max(range(len(models)), key=lambda i: times[i])
    return {"benchmark": f"front end (parse, check, IR, analysis, render), mean over {len(models)} models",
            "seconds": statistics.mean(times), "target": 0.3, "meets_target": statistics.mean(times) <= 0.3,
            "slowest": f"{models[slowest].stem} {times[slowest]:.2f} s"}
