"""The validation harness: find specs, build their models once, run each case, evaluate, report.

``run(paths)`` is the entry point for ``nmlc validate`` and the nox sessions; the pytest plugin drives the
same :class:`Harness` one case at a time.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from .adapter import Builder, Subject
from .checks import check_against_subject
from .errors import BuildError, HarnessError, SpecError
from .expectations import EvalContext, evaluate_expectation
from .plotting import write_plot
from .references import load_stored, run_python_reference, write_stored
from .results import CaseResult, write_json
from .simulate import CaseRun, run_case_in_nest
from .spec import EXPECTATIONS_NEEDING_VARIANTS, SPEC_FILENAME, CaseSpec, Spec, load_spec
from .stimuli import variant_id

DEFAULT_RESULTS_DIR = ".nmlc-results"
NO_CASES = "<spec>"  # case name used for a spec so broken that its case names are unknown
DEFAULT_LOCK = Path(".nmlc-cache") / "validation-build.lock"

# units NEST uses for the state variables of its built-in models, for labels and reports
_BUILTIN_UNITS = {"V_m": "mV", "V_th": "mV", "I_syn_ex": "pA", "I_syn_in": "pA", "I_syn": "pA", "w": "pA",
                  "g_ex": "nS", "g_in": "nS", "g_exc": "nS", "g_inh": "nS", "U_m": "mV", "u": "mV"}


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Spec files named by ``paths``: files as given, directories searched for ``spec.yaml``."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(p.rglob(SPEC_FILENAME)))
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"no such spec file or directory: {p}")
    return list(dict.fromkeys(found))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


class Harness:
    """Runs cases of loaded specs; one instance per process shares the build and the loaded specs."""

    def __init__(self, results_dir: str | Path | None = None, rootdir: str | Path | None = None,
                 lock_path: str | Path | None = None, plots: str = "failed", target: str = "nest"):
        from .python_target import TARGETS, PythonBuilder

        if target not in TARGETS:
            raise HarnessError(f"unknown target {target!r} (targets: {', '.join(TARGETS)})")
        self.target = target
        self.rootdir = Path(rootdir) if rootdir else Path.cwd()
        self.results_dir = Path(results_dir) if results_dir else self.rootdir / DEFAULT_RESULTS_DIR
        lock = Path(lock_path) if lock_path else self.rootdir / DEFAULT_LOCK
        # the Python target builds in seconds: it must not queue behind a NEST build's lock
        self.builder = Builder(lock) if target == "nest" else PythonBuilder(lock.with_name(f"{lock.stem}-{target}.lock"))
        if target != "nest":  # results of another target go beside NEST's, never over them
            self.results_dir = self.results_dir / f"target-{target}"
        self.plots = plots  # "failed" | "all" | "none"
        self._subjects: dict[Path, Subject | BuildError] = {}

    # -- loading and building --------------------------------------------------------------------------------
    def load(self, path: str | Path) -> Spec:
        return load_spec(path, self.rootdir)

    def prebuild(self, specs: Iterable[Spec]) -> None:
        """Compile the nmlc models of all (valid) specs in one build, so later per-spec lookups are free."""
        self.builder.prebuild([s for s in specs if not s.issues])

    def subject(self, spec: Spec) -> Subject:
        key = spec.path.resolve()
        if key not in self._subjects:
            try:
                self._subjects[key] = self.builder.subject(spec)
            except BuildError as exc:
                self._subjects[key] = exc
        got = self._subjects[key]
        if isinstance(got, BuildError):
            if got.path is not None:  # a problem in the spec itself: report it like any other spec error
                raise SpecError([spec.issue(got.path, str(got))])
            raise got
        return got

    # -- running ---------------------------------------------------------------------------------------------
    def run_case(self, spec: Spec, case_name: str) -> CaseResult:
        """Run one case; never raises for spec, build or simulation problems (they become ``status='error'``)."""
        result = CaseResult(spec.display, spec.model_label, spec.kind, case_name, "error")
        try:
            if spec.issues_for(case_name):
                self._add_interface_issues(spec)
            spec.raise_for(case_name)
            subject = self.subject(spec)
            result.solver = subject.solver
            check_against_subject(spec, subject)
            spec.raise_for(case_name)
            case = spec.cases[case_name]
            run = self._simulate(spec, case, subject)
        except SpecError as exc:
            result.message = f"invalid spec:\n{exc}"
            return self._write_error(spec, result)
        except BuildError as exc:
            result.message = f"model did not build:\n{exc}"
            return self._write_error(spec, result)
        except HarnessError as exc:
            result.message = f"case could not be run: {exc}"
            return self._write_error(spec, result)
        units = dict(_BUILTIN_UNITS) if subject.origin == "nest_builtin" else {}
        units.update(subject.neuron.units)
        ctx = EvalContext(case, run.model, run.references, run.reference_errors,
                          {**run.model_parameters, **run.synapse_parameters}, units)
        result.provenance = dict(run.provenance)
        result.expectations = [evaluate_expectation(e, ctx) for e in case.expectations]
        result.status = "passed" if all(e.passed for e in result.expectations) else "failed"
        self._write_outputs(spec, case, result, run)
        return result

    def _add_interface_issues(self, spec: Spec) -> None:
        """When a spec already has problems but its model is readable, also check its ports, variables and
        parameters against the built model, so that one run reports every problem instead of one layer at a
        time (an unknown port used to surface only after, say, a missing tolerance was fixed)."""
        if spec.model is None or any(i.path[:1] == ("model",) for i in spec.issues):
            return
        try:
            subject = self.subject(spec)
        except (SpecError, BuildError, HarnessError):
            return  # the model's own problem is reported when the spec's other issues are fixed
        try:
            check_against_subject(spec, subject)
        except Exception:  # noqa: BLE001 - a best-effort extra: a malformed spec is already reported above
            return

    def _references_needed(self, case: CaseSpec, spec: Spec) -> dict[str, set[str]]:
        """Reference name -> variants it must provide for this case's expectations."""
        needed: dict[str, set[str]] = {}
        for exp in case.expectations:
            if exp.reference is None:
                continue
            if exp.kind in EXPECTATIONS_NEEDING_VARIANTS:
                variants = {variant_id(exp, k) for k in range(len(exp.params["points"]))}
            else:
                variants = {"main"}
            needed.setdefault(exp.reference, set()).update(variants)
        return needed

    def _simulate(self, spec: Spec, case: CaseSpec, subject: Subject) -> CaseRun:
        needed = self._references_needed(case, spec)
        live = [spec.references[n] for n in needed if spec.references[n].kind == "nest_builtin"]
        if self.target == "python":
            from .python_target import run_case_python

            run = run_case_python(spec, case, subject, live)
        else:
            run = run_case_in_nest(spec, case, subject, live)
        for name in needed:
            ref = spec.references[name]
            try:
                if ref.kind == "python":
                    run.references[name] = run_python_reference(ref, case, run, sorted(needed[name]))
                elif ref.kind == "stored":
                    rec, prov = load_stored(ref, case)
                    run.references[name] = {"main": rec}
                    run.provenance[name] = prov
            except HarnessError as exc:
                run.reference_errors[name] = str(exc)
        return run

    def _folder(self, spec: Spec) -> Path:
        pieces = spec.display.split("/")
        if pieces[-1] == SPEC_FILENAME:
            pieces = pieces[:-1]
        else:  # several specs may share a folder: keep them apart by file stem
            pieces[-1] = pieces[-1].rsplit(".", 1)[0]
        parts = [_safe(p) for p in pieces if p not in ("", ".", "..")]
        return self.results_dir.joinpath(*parts) if parts else self.results_dir

    def _write_error(self, spec: Spec, result: CaseResult) -> CaseResult:
        path = self._folder(spec) / f"{_safe(result.case)}.json"
        try:
            write_json(result, path, None)
            result.json_path = str(path)
        except OSError:
            pass  # the failure report itself is what matters
        return result

    def _write_outputs(self, spec: Spec, case: CaseSpec, result: CaseResult, run: CaseRun) -> None:
        folder = self._folder(spec)
        header = f"{spec.display}::{case.name} — model '{result.model}'"
        for e in result.expectations:
            if self.plots == "all" or (self.plots == "failed" and not e.passed):
                name = f"{_safe(case.name)}__{_safe(e.label.split(' ')[0].replace('[', '').replace(']', ''))}.png"
                try:
                    path = write_plot(e, folder / name, header)
                except Exception as exc:  # a plot must never hide the real result
                    e.message += f" (plot failed: {exc})"
                    path = None
                e.plot_path = str(path) if path else None
        recordings: dict[str, Any] = {"model": {v: r.to_json() for v, r in run.model.items()}}
        for ref, per_variant in run.references.items():
            recordings[ref] = {v: r.to_json() for v, r in per_variant.items()}
        path = folder / f"{_safe(case.name)}.json"
        result.json_path = str(path)
        write_json(result, path, recordings)

    def run_spec(self, spec: Spec) -> list[CaseResult]:
        names = spec.case_names or [NO_CASES]
        return [self.run_case(spec, n) for n in names]

    # -- stored references -------------------------------------------------------------------------------------
    def regenerate(self, spec: Spec) -> list[Path]:
        """Rewrite the stored references of ``spec`` from the reference (or model) named in ``generated_by``:
        one file per case whose expectations compare with it."""
        written: list[Path] = []
        stored = [r for r in spec.references.values() if r.kind == "stored"]
        if not stored:
            return written
        spec.raise_for()
        subject = self.subject(spec)
        check_against_subject(spec, subject)
        spec.raise_for()
        for case in spec.cases.values():
            needed = self._references_needed(case, spec)
            for ref in stored:
                if ref.name not in needed:
                    continue  # a case that never compares with this reference needs no file of it
                gen = ref.data["generated_by"]
                live = [spec.references[gen]] if gen != "model" and spec.references[gen].kind == "nest_builtin" else []
                run = run_case_in_nest(spec, case, subject, live)
                if gen == "model":
                    rec, prov = run.model["main"], run.provenance["model"]
                elif spec.references[gen].kind == "python":
                    rec = run_python_reference(spec.references[gen], case, run, ["main"])["main"]
                    prov = run.provenance[gen]
                else:
                    if gen in run.reference_errors:
                        raise HarnessError(run.reference_errors[gen])
                    rec, prov = run.references[gen]["main"], run.provenance[gen]
                written.append(write_stored(ref, case, rec, {
                    "spec": spec.display, "case": case.name, "reference": ref.name, "generated_by": gen,
                    "generated_by_provenance": prov, "command": "nox -s references",
                }))
        return written


def _spec_results(harness: Harness, specs: list[Spec]) -> list[CaseResult]:
    harness.prebuild(specs)
    out: list[CaseResult] = []
    for spec in specs:
        out.extend(harness.run_spec(spec))
    return out


def run(paths: Iterable[str | Path] = ("library",), results_dir: str | Path | None = None,
        rootdir: str | Path | None = None, plots: str = "failed", target: str = "nest") -> list[CaseResult]:
    """Validate every spec under ``paths``; one :class:`CaseResult` per case (invalid specs included).
    ``target`` chooses the code-generation target the models under test run on (``nest``, ``python``)."""
    harness = Harness(results_dir, rootdir, plots=plots, target=target)
    specs = [harness.load(p) for p in discover(paths)]
    return _spec_results(harness, specs)


def regenerate_references(paths: Iterable[str | Path] = ("library",), rootdir: str | Path | None = None) -> list[Path]:
    """Rewrite the stored reference files of every spec under ``paths`` (for ``nox -s references``)."""
    harness = Harness(rootdir=rootdir)
    specs = [harness.load(p) for p in discover(paths)]
    harness.prebuild(specs)
    written: list[Path] = []
    for spec in specs:
        written.extend(harness.regenerate(spec))
    return written
