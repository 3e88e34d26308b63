"""Validation results for the catalogue: reuse a validation run's JSON files, or run the cases.

``nox -s validate`` (and every pytest run over ``library/``) leaves one JSON file per case in
``.nmlc-results/``. A spec's files are reused when every case has one and each is newer than the
model, the spec and everything else in the model's folder (reference scripts, stored traces);
otherwise that spec's cases run again, in separate processes (NEST and the compiler's build stay
out of the Sphinx process, and two specs run at once on a two-core machine).

Run as ``python -m nmlc.docs.results --results DIR --rootdir DIR SPEC...`` it is that worker: it builds
the models of its specs in one (cached) build and runs their cases.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CaseOutcome", "SpecOutcome", "collect_results", "spec_inputs"]


@dataclass
class CaseOutcome:
    """One case's stored result (``status``: passed, failed, error or missing)."""

    name: str
    status: str
    message: str = ""
    expectations: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    json_path: Path | None = None

    def load(self) -> dict[str, Any] | None:
        """The full JSON (with recordings), or None when there is no file."""
        if self.json_path is None or not self.json_path.exists():
            return None
        return json.loads(self.json_path.read_text(encoding="utf-8"))


@dataclass
class SpecOutcome:
    """The results of one spec's cases and where they came from: ``reused`` (fresh files of an earlier run),
    ``ran`` (run for this call) or ``stale`` (older than the model or spec, and running was turned off)."""

    spec_path: Path
    spec: Any  # nmlc_validation.Spec
    cases: list[CaseOutcome] = field(default_factory=list)
    origin: str = "reused"

    @property
    def passed(self) -> int:
        return sum(c.status == "passed" for c in self.cases)

    @property
    def status(self) -> str:
        """``passed`` when every case passed, ``failed`` when any failed, ``error`` when any could not run."""
        if not self.cases:
            return "error"
        if any(c.status in ("error", "missing") for c in self.cases):
            return "error"
        return "passed" if self.passed == len(self.cases) else "failed"


def spec_inputs(spec: Any) -> list[Path]:
    """Files whose change makes a spec's stored results stale: its folder's files and its models' sources."""
    from nmlc_validation.adapter import nestml_sources

    files = {spec.path.resolve()}
    for p in spec.directory.iterdir():
        if p.is_file() and not p.name.startswith("."):
            files.add(p.resolve())
    files.update(nestml_sources(spec))
    return sorted(files)


def _case_path(harness: Any, spec: Any, case: str) -> Path:
    # the harness' own layout (results/<spec folder>/<case>.json), so files of `nox -s validate` are found
    from nmlc_validation.harness import _safe

    return harness._folder(spec) / f"{_safe(case)}.json"


def _outcome(name: str, path: Path) -> CaseOutcome:
    if not path.exists():
        return CaseOutcome(name, "missing", "no result file", json_path=None)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return CaseOutcome(name, "missing", f"unreadable result file {path}: {exc}")
    return CaseOutcome(name, str(data.get("status", "error")), str(data.get("message", "")),
                       list(data.get("expectations", [])), dict(data.get("provenance", {})), path)


def _fresh(paths: list[Path], inputs: list[Path]) -> bool:
    newest = max((p.stat().st_mtime for p in inputs if p.exists()), default=0.0)
    return all(p.exists() and p.stat().st_mtime > newest for p in paths)


def _run_workers(stale: list[Path], rootdir: Path, results_dir: Path, jobs: int,
                 log: Callable[[str], None]) -> None:
    """Run the stale specs' cases in up to ``jobs`` worker processes, specs dealt out round-robin."""
    jobs = max(1, min(jobs, len(stale)))
    groups = [stale[i::jobs] for i in range(jobs)]
    env = dict(os.environ)
    # the workers import the same nmlc and nmlc_validation as this process, installed or in-tree
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    procs = []
    for group in groups:
        cmd = [sys.executable, "-m", "nmlc.docs.results", "--results", str(results_dir), "--rootdir", str(rootdir),
               *map(str, group)]
        log(f"running the cases of {', '.join(str(p.parent.name) for p in group)}")
        procs.append((group, subprocess.Popen(cmd, cwd=rootdir, env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)))
    for group, proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            tail = "\n".join(out.strip().splitlines()[-15:])
            log(f"validation worker for {', '.join(map(str, group))} failed (exit {proc.returncode}):\n{tail}")


def collect_results(spec_paths: list[Path], rootdir: Path, results_dir: Path, run: bool = True, jobs: int = 2,
                    log: Callable[[str], None] = print) -> dict[Path, SpecOutcome]:
    """Per spec file: its cases' results, reused when fresh, else run (unless ``run`` is False)."""
    from nmlc_validation import Harness

    harness = Harness(results_dir=results_dir, rootdir=rootdir, plots="none")
    specs = {p: harness.load(p) for p in spec_paths}
    stale = []
    for path, spec in specs.items():
        names = spec.case_names or []
        files = [_case_path(harness, spec, c) for c in names]
        if not names or not _fresh(files, spec_inputs(spec)):
            stale.append(path)
    if stale and run:
        _run_workers(stale, rootdir, results_dir, jobs, log)
    out: dict[Path, SpecOutcome] = {}
    for path, spec in specs.items():
        names = spec.case_names or []
        origin = ("ran" if run else "stale") if path in stale else "reused"
        outcome = SpecOutcome(path, spec, origin=origin)
        for c in names:
            outcome.cases.append(_outcome(c, _case_path(harness, spec, c)))
        if not names:  # a spec so broken that its cases are unknown
            outcome.cases.append(CaseOutcome("<spec>", "error", "; ".join(str(i) for i in spec.issues)))
        out[path] = outcome
    return out


def _worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m nmlc.docs.results")
    parser.add_argument("--results", required=True)
    parser.add_argument("--rootdir", required=True)
    parser.add_argument("specs", nargs="+")
    args = parser.parse_args(argv)
    from nmlc_validation import Harness

    harness = Harness(results_dir=args.results, rootdir=args.rootdir, plots="none")
    specs = {p: harness.load(p) for p in args.specs}
    # one build of just these specs' models: when only some specs are stale, compiling the whole library
    # (as a validation run does) would cost far more than it could save
    harness.prebuild(specs.values())
    for p in args.specs:
        for result in harness.run_spec(specs[p]):
            print(f"{result.node_id}: {result.status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
