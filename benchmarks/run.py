"""`nox -s bench`: generated models against NEST's built-ins, and build times, as ratios.

Writes ``benchmarks/results/benchmarks.json`` and ``benchmarks/results/benchmarks.md`` (the table the
docs include) and prints the table. Every comparison runs both sides in the same process, A/B
alternated; what a side of a comparison needs but the library lacks is reported as missing, not
skipped silently.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

import memory  # noqa: E402
import networks  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _library(kind: str, name: str) -> Path | None:
    path = ROOT / "library" / kind / name / f"{name}.nestml"
    return path if path.is_file() else None


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def bench_networks(runs: int, threads: int, scale: float) -> list[dict]:
    import nmlc

    rows = []
    alpha = _library("neurons", "iaf_psc_alpha")
    mod = nmlc.build([alpha])
    gen = mod.models["iaf_psc_alpha"]
    order = int(500 * scale)
    a, b = networks.alternate(runs, ("built-in iaf_psc_alpha", lambda: networks.brunel(
        "iaf_psc_alpha", order=order, sim_time=1000.0, threads=threads)),
        ("generated iaf_psc_alpha", lambda: networks.brunel(gen, order=order, sim_time=1000.0, threads=threads,
                                                           install=mod.install)))
    rows.append(_row(f"Brunel iaf_psc_alpha, N={5 * order}, {threads} thread(s)", a, b, 1.05))

    hh = _library("neurons", "hh_psc_alpha")
    if hh is None:
        rows.append({"benchmark": "HH network", "missing": "library/neurons/hh_psc_alpha is not in the library yet"})
    else:
        mh = nmlc.build([hh])
        n = int(2000 * scale)
        a, b = networks.alternate(runs, ("built-in hh_psc_alpha", lambda: networks.hh_network(
            "hh_psc_alpha", n=n, sim_time=1000.0, threads=threads)),
            ("generated hh_psc_alpha", lambda: networks.hh_network(
                mh.models["hh_psc_alpha"], n=n, sim_time=1000.0, threads=threads, install=mh.install)))
        rows.append(_row(f"HH network hh_psc_alpha, N={n}, {threads} thread(s)", a, b, 1.10))

    stdp = _library("synapses", "stdp")
    if stdp is None or not hasattr(nmlc.build, "__call__"):
        rows.append({"benchmark": "Brunel + STDP", "missing": "library/synapses/stdp is not in the library yet"})
    else:
        try:
            ms = nmlc.build([alpha, stdp], pairs=[("iaf_psc_alpha", "stdp")])
            neuron = ms.models.get("iaf_psc_alpha__with_stdp", ms.models["iaf_psc_alpha"])
            syn = ms.models["stdp"]
            a, b = networks.alternate(runs, ("built-in stdp_synapse", lambda: networks.brunel(
                "iaf_psc_alpha", order=order, sim_time=1000.0, threads=threads, synapse_model="stdp_synapse")),
                ("generated stdp (co-generated)", lambda: networks.brunel(
                    neuron, order=order, sim_time=1000.0, threads=threads, synapse_model=syn, install=ms.install)))
            rows.append(_row(f"Brunel + STDP on E->E, N={5 * order}, {threads} thread(s)", a, b, 1.10))
        except Exception as exc:  # report, do not hide: the table says why this row has no figures
            rows.append({"benchmark": "Brunel + STDP", "missing": f"{type(exc).__name__}: {exc}"[:300]})
    return rows


def _row(name: str, builtin, generated, target: float) -> dict:
    ratio = generated.median / builtin.median
    return {"benchmark": name, "builtin_s": builtin.median, "generated_s": generated.median, "ratio": ratio,
            "target": target, "runs": len(builtin.times), "builtin_all": builtin.times,
            "generated_all": generated.times, "rate_builtin_hz": statistics.median(builtin.rates),
            "rate_generated_hz": statistics.median(generated.rates), "meets_target": ratio <= target}


def bench_memory(n: int) -> list[dict]:
    import nmlc

    rows = []
    for name in ("iaf_psc_alpha", "hh_psc_alpha", "iaf_psc_exp"):
        path = _library("neurons", name)
        if path is None:
            continue
        mod = nmlc.build([path])
        b = memory.measure(name, n)
        g = memory.measure(mod.models[name], n, str(mod.path))
        rows.append({"benchmark": f"memory per neuron, {name}", "builtin_bytes": b, "generated_bytes": g,
                     "ratio": g / b if b > 0 else float("nan"), "target": 1.10, "meets_target": g <= 1.10 * b})
    return rows


def bench_build() -> list[dict]:
    """Cold (empty cache, precompiled header included and excluded), warm, whole library, front end."""
    import nmlc
    from nmlc.diagnostics import Diagnostics
    from nmlc.frontend import compile_models

    models = sorted((ROOT / "library").glob("*/*/*.nestml"))
    one = _library("neurons", "iaf_psc_exp")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env_before = os.environ.get("NMLC_CACHE_DIR")
        os.environ["NMLC_CACHE_DIR"] = tmp
        try:
            t0 = time.perf_counter()
            nmlc.build([one])
            cold_with_pch = time.perf_counter() - t0
            shutil.rmtree(Path(tmp) / "modules", ignore_errors=True)
            t0 = time.perf_counter()
            nmlc.build([one])
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"import nmlc; nmlc.build([{str(one)!r}])"], check=True)
            warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            for m in models:
                nmlc.build([m])
            library = time.perf_counter() - t0
        finally:
            if env_before is None:
                os.environ.pop("NMLC_CACHE_DIR", None)
            else:
                os.environ["NMLC_CACHE_DIR"] = env_before
    rows.append({"benchmark": "cold build of one neuron (iaf_psc_exp), precompiled header cached", "seconds": cold,
                 "target": 5.0, "meets_target": cold <= 5.0})
    rows.append({"benchmark": "cold build of one neuron, including the precompiled header", "seconds": cold_with_pch})
    rows.append({"benchmark": f"cold build of the whole library ({len(models)} models, one module each)",
                 "seconds": library, "target": 60.0, "meets_target": library <= 60.0})
    rows.append({"benchmark": "warm rebuild, nothing changed (new process, `nmlc.build`)", "seconds": warm,
                 "target": 1.0, "meets_target": warm <= 1.0})
    times = []
    for m in models:
        t0 = time.perf_counter()
        compile_models([m], Diagnostics(), "nmlc_bench", "_nestml")
        times.append(time.perf_counter() - t0)
    rows.append({"benchmark": f"front end (parse, check, analyse, render), mean over {len(models)} models",
                 "seconds": statistics.mean(times), "target": 0.3, "meets_target": statistics.mean(times) <= 0.3})
    return rows


def markdown(rows: list[dict], machine: str) -> str:
    out = [f"Measured on: {machine}", "", "| benchmark | built-in | generated | ratio | target | met |",
           "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "missing" in r:
            out.append(f"| {r['benchmark']} | – | – | – | – | not measured: {r['missing']} |")
        elif "builtin_s" in r:
            out.append(f"| {r['benchmark']} | {r['builtin_s']:.2f} s | {r['generated_s']:.2f} s | {r['ratio']:.3f} | "
                       f"≤ {r['target']} | {'yes' if r['meets_target'] else 'no'} |")
        elif "builtin_bytes" in r:
            out.append(f"| {r['benchmark']} | {r['builtin_bytes']:.0f} B | {r['generated_bytes']:.0f} B | "
                       f"{r['ratio']:.3f} | ≤ {r['target']} | {'yes' if r['meets_target'] else 'no'} |")
        else:
            target = f"≤ {r['target']} s" if "target" in r else "–"
            met = ("yes" if r["meets_target"] else "no") if "meets_target" in r else "–"
            out.append(f"| {r['benchmark']} | – | {r['seconds']:.2f} s | – | {target} | {met} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="A/B repetitions per network benchmark")
    parser.add_argument("--scale", type=float, default=1.0, help="network size factor")
    parser.add_argument("--only", choices=["networks", "memory", "build"], default=None)
    args = parser.parse_args(argv)
    rows: list[dict] = []
    if args.only in (None, "networks"):
        for threads in (1, 2):
            rows += bench_networks(args.runs, threads, args.scale)
    if args.only in (None, "memory"):
        rows += bench_memory(20000)
    if args.only in (None, "build"):
        rows += bench_build()
    machine = _machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "benchmarks.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    table = markdown(rows, machine)
    (RESULTS / "benchmarks.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
