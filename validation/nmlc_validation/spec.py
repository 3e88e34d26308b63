"""The spec data model: load a ``spec.yaml``, validate it against the schema and check what the schema cannot.

Checks here need only the file itself (references exist, windows lie inside the case, list lengths agree,
...). Checks against the model's interface (port, variable and parameter names) live in :mod:`.checks`,
because they need the built model.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SpecError, SpecIssue
from .schema import schema_issues
from .yamlsrc import SourceMap, YamlSyntaxError, load_yaml_with_lines

SPEC_FILENAME = "spec.yaml"
PRE_PORT = "pre"  # synapse specs: spike trains on this port are the presynaptic spikes
MOD_PORT = "mod"  # synapse specs: spike trains on this port are neuromodulator spikes (via a volume transmitter)
EXPECTATIONS_NEEDING_VARIANTS = ("fi_curve", "stdp_window")  # they simulate extra instances per point
SCALAR_EXPECTATIONS = ("firing_rate", "isi", "resting_potential")


@dataclass
class SubjectSpec:
    """What is being tested: a ``.nestml`` file or a NEST built-in, plus (synapses) its post neuron."""

    nestml: Path | None
    name: str | None
    nest_builtin: str | None
    spike_ports: dict[str, dict]
    current_ports: dict[str, dict]
    neuron: "SubjectSpec | None" = None
    target_port: str | None = None
    cogenerate: bool = False  # synapses: build as a co-generated pair with their (nestml) neuron

    @property
    def is_synapse(self) -> bool:
        return self.neuron is not None

    @property
    def label(self) -> str:
        """Model name used in reports: the NESTML model name or the built-in's name."""
        if self.nest_builtin:
            return self.nest_builtin
        assert self.nestml is not None
        return self.name or self.nestml.stem


@dataclass
class ReferenceSpec:
    """A named reference: ``nest_builtin`` (run live), ``stored`` (file) or ``python`` (script)."""

    name: str
    kind: str
    data: dict[str, Any]
    spec_dir: Path

    def stored_path(self, case: str) -> Path:
        return self.spec_dir / str(self.data["stored"]).format(case=case)

    def script_path(self) -> Path:
        return self.spec_dir / str(self.data["python"])


@dataclass
class StimulusSpec:
    kind: str
    params: dict[str, Any]
    path: tuple


@dataclass
class ExpectationSpec:
    kind: str
    params: dict[str, Any]
    path: tuple
    index: int

    @property
    def label(self) -> str:
        """``expect[0].trace`` or ``expect[0].trace 'name'`` when the spec gives a name."""
        base = f"expect[{self.index}].{self.kind}"
        return f"{base} '{self.params['name']}'" if self.params.get("name") else base

    @property
    def reference(self) -> str | None:
        return self.params.get("reference")


@dataclass
class RecordSpec:
    variables: list[str]
    interval: float | None
    spikes: bool
    weights: bool


@dataclass
class CaseSpec:
    name: str
    resolution: float
    duration: float
    seed: int
    threads: int
    parameters: dict[str, Any]
    neuron_parameters: dict[str, Any]
    stimuli: list[StimulusSpec]
    record: RecordSpec
    expectations: list[ExpectationSpec]
    description: str = ""
    synapse: bool = False  # a synapse spec's case: ports 'pre' and 'mod' are reserved

    @property
    def reserved_ports(self) -> tuple[str, ...]:
        """Ports that do not belong to the neuron: ``pre`` (and ``mod`` in synapse specs)."""
        return (PRE_PORT, MOD_PORT) if self.synapse else (PRE_PORT,)


@dataclass
class Spec:
    """A loaded spec. ``issues`` holds every problem found; a spec with issues must not be run."""

    path: Path
    display: str
    smap: SourceMap
    raw: Any
    model: SubjectSpec | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    neuron_parameters: dict[str, Any] = field(default_factory=dict)
    references: dict[str, ReferenceSpec] = field(default_factory=dict)
    cases: dict[str, CaseSpec] = field(default_factory=dict)
    case_names: list[str] = field(default_factory=list)
    issues: list[SpecIssue] = field(default_factory=list)
    interface_checked: bool = False

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def kind(self) -> str:
        """What the summary calls the model: inside the library what its folder calls it (``generator``
        for library/generators/<name>/spec.yaml), else ``synapse`` or ``neuron``."""
        category = self.directory.parent
        if category.parent.name == "library" and category.name.endswith("s"):
            return category.name[:-1]
        return "synapse" if self.model is not None and self.model.is_synapse else "neuron"

    @property
    def model_label(self) -> str:
        if self.model is not None:
            return self.model.label
        return self.directory.name

    def issue(self, path: tuple, message: str) -> SpecIssue:
        item = SpecIssue(self.display, self.smap.line_of(path), tuple(path), message)
        self.issues.append(item)
        return item

    def issues_for(self, case: str | None) -> list[SpecIssue]:
        """Spec-wide issues plus those inside ``cases.<case>``."""
        return [i for i in self.issues if i.case_name() is None or i.case_name() == case]

    def raise_for(self, case: str | None = None) -> None:
        issues = self.issues_for(case) if case is not None else self.issues
        if issues:
            raise SpecError(issues)


def display_name(path: Path, rootdir: Path | None) -> str:
    """Path as shown in messages and item ids: relative to ``rootdir`` (or cwd) when inside it."""
    base = (rootdir or Path.cwd()).resolve()
    try:
        return Path(os.path.relpath(path.resolve(), base)).as_posix() if path.resolve().is_relative_to(base) \
            else str(path)
    except ValueError:
        return str(path)


def load_spec(path: str | Path, rootdir: Path | None = None) -> Spec:
    """Load and statically check a spec file. Never raises for spec problems: see ``Spec.issues``."""
    path = Path(path)
    display = display_name(path, rootdir)
    try:
        raw, smap = load_yaml_with_lines(path, display)
    except YamlSyntaxError as exc:
        smap = SourceMap(display)
        spec = Spec(path=path, display=display, smap=smap, raw=None)
        spec.issues.append(SpecIssue(display, exc.line, exc.path, exc.message))
        return spec
    spec = Spec(path=path, display=display, smap=smap, raw=raw)
    if isinstance(raw, dict) and isinstance(raw.get("cases"), dict):
        spec.case_names = [str(k) for k in raw["cases"]]
    spec.issues.extend(schema_issues(raw, smap))
    broken = {i.case_name() for i in spec.issues}
    if None in broken:
        return spec  # a spec-wide problem: the data does not have the expected shape, every case fails
    # problems confined to some cases: build the rest, so only the broken cases fail
    valid = {k: v for k, v in raw["cases"].items() if k not in broken}
    if valid:
        _build(spec, {**raw, "cases": valid})
        _static_checks(spec, complete=not broken)
    return spec


def _subject(data: dict, spec_dir: Path) -> SubjectSpec:
    return SubjectSpec(
        nestml=(spec_dir / data["nestml"]) if "nestml" in data else None,
        name=data.get("name"),
        nest_builtin=data.get("nest_builtin"),
        spike_ports=dict(data.get("spike_ports", {})),
        current_ports=dict(data.get("current_ports", {})),
        neuron=_subject(data["neuron"], spec_dir) if "neuron" in data else None,
        target_port=data.get("target_port"),
        cogenerate=bool(data.get("cogenerate", False)),
    )


def _build(spec: Spec, raw: dict) -> None:
    spec.model = _subject(raw["model"], spec.directory)
    spec.parameters = dict(raw.get("parameters", {}))
    spec.neuron_parameters = dict(raw.get("neuron_parameters", {}))
    for name, ref in raw.get("references", {}).items():
        kind = next(k for k in ("nest_builtin", "stored", "python") if k in ref)
        spec.references[name] = ReferenceSpec(name, kind, dict(ref), spec.directory)
    for cname, c in raw["cases"].items():
        base = ("cases", cname)
        rec = c.get("record", {})
        spec.cases[cname] = CaseSpec(
            name=cname,
            resolution=float(c["resolution"]),
            duration=float(c["duration"]),
            seed=int(c["seed"]),
            threads=int(c["threads"]),
            parameters={**spec.parameters, **c.get("parameters", {})},
            neuron_parameters={**spec.neuron_parameters, **c.get("neuron_parameters", {})},
            stimuli=[
                StimulusSpec(next(iter(s)), dict(next(iter(s.values()))), base + ("stimuli", i, next(iter(s))))
                for i, s in enumerate(c.get("stimuli", []))
            ],
            record=RecordSpec(
                variables=list(rec.get("variables", [])),
                interval=float(rec["interval"]) if "interval" in rec else None,
                spikes=bool(rec.get("spikes", True)),
                weights=bool(rec.get("weights", True)),
            ),
            expectations=[
                ExpectationSpec(next(iter(e)), dict(next(iter(e.values()))), base + ("expect", i, next(iter(e))), i)
                for i, e in enumerate(c["expect"])
            ],
            description=c.get("description", ""),
            synapse=spec.model.is_synapse,
        )


def _on_grid(value: float, step: float) -> bool:
    ratio = value / step
    return math.isclose(ratio, round(ratio), rel_tol=0, abs_tol=1e-9 * max(1.0, abs(ratio)))


def _static_checks(spec: Spec, complete: bool) -> None:
    assert spec.model is not None
    model = spec.model
    for subj, where in ((model, ("model",)), (model.neuron, ("model", "neuron"))):
        if subj is not None and subj.nestml is not None and not subj.nestml.is_file():
            spec.issue(where + ("nestml",), f"unknown model: file '{subj.nestml}' does not exist")
    if model.is_synapse and model.neuron is not None and model.neuron.nest_builtin \
            and model.target_port not in model.neuron.spike_ports:
        spec.issue(("model", "target_port"),
                   f"target_port '{model.target_port}' is not a spike port of the neuron "
                   f"(known: {', '.join(model.neuron.spike_ports) or 'none'})")
    if model.cogenerate and (model.nestml is None or model.neuron is None or model.neuron.nestml is None):
        spec.issue(("model", "cogenerate"), "cogenerate needs a nestml synapse paired with a nestml neuron "
                   "(model.nestml, model.neuron.nestml and model.target_port): only nmlc can co-generate the pair")
    if spec.neuron_parameters and not model.is_synapse:
        spec.issue(("neuron_parameters",), "neuron_parameters are only for synapse specs (model.neuron)")

    for name, ref in spec.references.items():
        where = ("references", name)
        if ref.kind == "stored":
            gen = ref.data["generated_by"]
            if gen != "model" and gen not in spec.references:
                spec.issue(where + ("generated_by",), f"unknown reference '{gen}' (use 'model' or one of: "
                           f"{', '.join(n for n in spec.references if n != name)})")
            elif gen != "model" and spec.references[gen].kind == "stored":
                spec.issue(where + ("generated_by",), "a stored reference must be generated by a live reference")
        if ref.kind == "python" and not ref.script_path().is_file():
            spec.issue(where + ("python",), f"reference script '{ref.script_path()}' does not exist")
        if ref.kind == "nest_builtin" and model.is_synapse and "neuron" not in ref.data:
            spec.issue(where, "a synapse reference needs 'neuron': the NEST built-in post-synaptic neuron")
        if ref.kind == "nest_builtin" and not model.is_synapse:
            for key in ("neuron", "neuron_parameters"):
                if key in ref.data:
                    spec.issue(where + (key,), f"'{key}' is only for synapse references")

    independent = False
    for case in spec.cases.values():
        _check_case(spec, case)
        for exp in case.expectations:
            if exp.kind == "expression":
                independent = True
            ref = spec.references.get(exp.reference or "")
            if ref is not None and (ref.kind != "stored" or ref.data.get("generated_by") != "model"):
                independent = True
    if model.nestml is not None and spec.cases and complete and not independent:
        spec.issue(("cases",), "every library model needs at least one expectation against a reference that "
                   "does not go through nmlc (a nest_builtin, python or independently stored reference, or an "
                   "expression)")


def _check_window(spec: Spec, case: CaseSpec, path: tuple, window: list | None) -> None:
    if window is None:
        return
    start, stop = window
    if not start < stop:
        spec.issue(path, f"window [{start}, {stop}] is empty: start must be before stop")
    elif stop > case.duration + 1e-9:
        spec.issue(path, f"window [{start}, {stop}] ends after the case duration ({case.duration} ms)")


def _check_case(spec: Spec, case: CaseSpec) -> None:
    base = ("cases", case.name)
    h = case.resolution
    assert spec.model is not None
    if not _on_grid(h, 0.001):
        spec.issue(base + ("resolution",), f"resolution {h} ms is not a multiple of NEST's tic (0.001 ms)")
    if not _on_grid(case.duration, h):
        spec.issue(base + ("duration",), f"duration {case.duration} ms is not a multiple of the resolution {h} ms")
    rec = case.record
    if rec.interval is not None and not _on_grid(rec.interval, h):
        spec.issue(base + ("record", "interval"),
                   f"interval {rec.interval} ms is not a multiple of the resolution {h} ms")
    if rec.weights and not spec.model.is_synapse and "weights" in spec.raw["cases"][case.name].get("record", {}):
        spec.issue(base + ("record", "weights"), "weights can only be recorded for synapse specs")

    for stim in case.stimuli:
        _check_stimulus(spec, case, stim)

    for exp in case.expectations:
        p = exp.params
        path = exp.path
        ref_name = exp.reference
        if ref_name is not None and ref_name not in spec.references:
            known = ", ".join(spec.references) or "none defined"
            spec.issue(path + ("reference",), f"unknown reference '{ref_name}' (known: {known})")
        elif ref_name is not None:
            ref = spec.references[ref_name]
            if ref.kind == "stored" and exp.kind in EXPECTATIONS_NEEDING_VARIANTS:
                spec.issue(path + ("reference",), f"{exp.kind} needs a live reference (nest_builtin or python), "
                           f"'{ref_name}' is stored")
        var = p.get("variable")
        if var is not None and var not in rec.variables:
            spec.issue(path + ("variable",),
                       f"variable '{var}' is not recorded in this case (add it to cases.{case.name}.record.variables)")
        _check_window(spec, case, path + ("window",), p.get("window"))
        if "min" in p and "max" in p and p["min"] > p["max"]:
            spec.issue(path + ("min",), f"min ({p['min']}) is larger than max ({p['max']})")
        if exp.kind in ("weight_trajectory", "stdp_window", "weights") and not spec.model.is_synapse:
            spec.issue(path, f"{exp.kind} needs a synapse spec (model.neuron and model.target_port)")
        if exp.kind in ("fi_curve", "stdp_window") and "reference" not in p:
            for i, point in enumerate(p["points"]):
                if exp.kind == "fi_curve" and "min" not in point and "max" not in point:
                    spec.issue(path + ("points", i), "needs 'min' and/or 'max' (Hz), or a 'reference' for the curve")
                if exp.kind == "stdp_window" and "sign" not in point:
                    spec.issue(path + ("points", i), "needs 'sign' (and optionally min_abs/max_abs), "
                               "or a 'reference' for the window")
        if exp.kind == "stdp_window":
            for i, point in enumerate(p["points"]):
                if point.get("sign") == "none" and "max_abs" not in point:
                    spec.issue(path + ("points", i), "sign 'none' needs 'max_abs': the largest change that counts "
                               "as no change")
            longest = max(abs(pt["dt"]) for pt in p["points"])
            needed = 10.0 + longest + (p["repeats"] + 1) * p["period"] + 5.0
            if needed > case.duration:
                spec.issue(path, f"the pairing protocol needs {needed:g} ms but the case lasts {case.duration:g} ms "
                           f"(10 + max|dt| + (repeats + 1) * period + 5)")
            if p["period"] <= 2 * longest:
                spec.issue(path + ("period",), f"period ({p['period']} ms) must exceed twice the largest |dt| "
                           f"({longest} ms) so pairings do not overlap")
        if exp.kind == "psp":
            for key in ("amplitude", "time_to_peak"):
                b = p.get(key, {})
                if "min" in b and "max" in b and b["min"] > b["max"]:
                    spec.issue(path + (key,), f"min ({b['min']}) is larger than max ({b['max']})")
            if not p["window"][0] <= p["onset"] <= p["window"][1]:
                spec.issue(path + ("onset",), f"onset {p['onset']} ms is outside the window {p['window']}")
        if exp.kind == "spike_times" and "times" in p and list(p["times"]) != sorted(p["times"]):
            spec.issue(path + ("times",), "times must be in increasing order")
        if exp.kind == "expression":
            from .exprs import ExpressionError, parse_expression

            try:
                parse_expression(p["expr"])
            except ExpressionError as exc:
                spec.issue(path + ("expr",), str(exc))


def _check_stimulus(spec: Spec, case: CaseSpec, stim: StimulusSpec) -> None:
    p = stim.params
    path = stim.path
    assert spec.model is not None
    what = {PRE_PORT: "presynaptic spikes", MOD_PORT: "neuromodulator spikes"}.get(p["port"]) \
        if p["port"] in case.reserved_ports else None
    if what is not None and stim.kind not in ("spike_train", "poisson"):
        spec.issue(path + ("port",), f"port '{p['port']}' ({what}) takes spike_train or poisson input")
    if p["port"] == PRE_PORT and spec.model.is_synapse and ("weight" in p or "delay" in p):
        key = "weight" if "weight" in p else "delay"
        spec.issue(path + (key,), f"presynaptic spikes use the synapse's own weight and delay: remove '{key}'")
    if p["port"] == MOD_PORT and case.synapse and ("weight" in p or "delay" in p):
        key = "weight" if "weight" in p else "delay"
        spec.issue(path + (key,), f"neuromodulator spikes have no {key}: each reaches the synapse's volume "
                   f"transmitter two resolution steps after its time (through a parrot neuron); remove '{key}'")
    if stim.kind in ("spike_train", "poisson") and p["port"] not in case.reserved_ports and "weight" not in p:
        spec.issue(path, "'weight' is a required property (weight of each spike on the port, pA or nS)")
    if "start" in p and "stop" in p and p["start"] >= p["stop"]:
        spec.issue(path + ("stop",), f"stop ({p['stop']}) must be after start ({p['start']})")
    for key in ("start", "stop"):
        if key in p and p[key] > case.duration + 1e-9:
            spec.issue(path + (key,), f"{key} {p[key]} ms is after the end of the case ({case.duration} ms)")
    if stim.kind == "step_current":
        if len(p["times"]) != len(p["amplitudes"]):
            spec.issue(path + ("amplitudes",), f"{len(p['amplitudes'])} amplitudes for {len(p['times'])} times")
        if any(b <= a for a, b in zip(p["times"], p["times"][1:])):
            spec.issue(path + ("times",), "times must be strictly increasing")
        if p["times"] and p["times"][-1] > case.duration:
            spec.issue(path + ("times",), f"time {p['times'][-1]} ms is after the end of the case")
    if stim.kind == "pulses":
        count = p.get("count", 1)
        if count > 1 and "period" not in p:
            spec.issue(path, "'period' is required when count > 1")
        elif count > 1 and p["period"] <= p["width"]:
            spec.issue(path + ("period",), f"period ({p['period']} ms) must be longer than width ({p['width']} ms)")
        end = p["start"] + (count - 1) * p.get("period", 0.0) + p["width"]
        if end > case.duration + 1e-9:
            spec.issue(path, f"the last pulse ends at {end:g} ms, after the end of the case ({case.duration} ms)")
    if stim.kind == "spike_train":
        times = p["times"]
        if any(b < a for a, b in zip(times, times[1:])):
            spec.issue(path + ("times",), "times must be in increasing order")
        if times and times[-1] > case.duration:
            spec.issue(path + ("times",), f"spike at {times[-1]} ms is after the end of the case")
        for key in ("weight", "delay"):
            val = p.get(key)
            if isinstance(val, list) and len(val) != len(times):
                spec.issue(path + (key,), f"{len(val)} values for {len(times)} spike times")
        bad = [t for t in times if not _on_grid(t, case.resolution)]
        if bad:
            spec.issue(path + ("times",), f"spike time {bad[0]} ms is not on the simulation grid "
                       f"(resolution {case.resolution} ms)")
    if stim.kind == "noise" and not _on_grid(p["dt"], case.resolution):
        spec.issue(path + ("dt",), f"dt {p['dt']} ms is not a multiple of the resolution {case.resolution} ms")
    delays = p.get("delay")
    for d in delays if isinstance(delays, list) else ([delays] if delays is not None else []):
        if d < case.resolution - 1e-12 or not _on_grid(d, case.resolution):
            spec.issue(path + ("delay",), f"delay {d} ms must be a positive multiple of the resolution "
                       f"({case.resolution} ms)")
            break
