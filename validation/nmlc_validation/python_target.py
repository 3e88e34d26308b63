"""Run spec cases on nmlc's Python target: the model in the NumPy simulator, live references in NEST.

The model under test is built with ``nmlc.build(..., target="python")`` and every variant of a case
(the case itself, f-I points, STDP-window points) is simulated in one :class:`nmlc.pysim.Network`
with the same inputs, timing and recorders as :mod:`.simulate` sets up in NEST: currents through a
generator with a delay of one step, spike trains grouped by delay, presynaptic spikes through a
parrot neuron, weights read from a weight recorder, neuromodulator spikes (port ``mod``) through a
parrot neuron into a volume transmitter of each variant's own. ``nest_builtin`` references still run
live in NEST (under the same stimuli and with the model's effective parameters), so expectations
compare the Python model with exactly what they compare the NEST model with. A spec that asks for a
co-generated pair (``model.cogenerate``) runs the plain models here: the Python target has no
co-generation, and the pair computes the same.
"""
from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from .adapter import Subject, nestml_sources, subject_from
from .errors import BuildError, HarnessError
from .simulate import CaseRun, CaseSimulator, Recording, _Group, _Instance, _nest_message
from .spec import MOD_PORT, PRE_PORT, CaseSpec, ReferenceSpec, Spec
from .stimuli import case_variants, generator_schedule

TARGETS = ("nest", "python")


class PythonBuilder:
    """Builds the nmlc models of specs with the Python target (file-locked, cached like :class:`Builder`)."""

    def __init__(self, lock_path: Path, build_dir: Path | None = None):
        self.lock_path = Path(lock_path)
        self.build_dir = build_dir
        self._modules: dict[frozenset, Any] = {}
        self._errors: dict[frozenset, str] = {}
        self._mutex = threading.Lock()

    def _build(self, sources: Iterable[Path]) -> Any:
        import nmlc

        key = frozenset(sources)
        if key in self._modules:
            return self._modules[key]
        if key in self._errors:
            raise BuildError(self._errors[key])
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(self.lock_path)):
                module = nmlc.build(sorted(str(s) for s in key), self.build_dir, target="python")
        except nmlc.NmlcError as exc:
            self._errors[key] = str(exc)
            raise BuildError(str(exc)) from None
        self._modules[key] = module
        return module

    def prebuild(self, specs: Iterable[Spec]) -> None:
        specs = list(specs)
        sources = sorted({s for spec in specs for s in nestml_sources(spec)})
        if not sources:
            return
        with self._mutex:
            try:
                module = self._build(sources)
            except BuildError:
                return  # reported per spec by subject()
            for spec in specs:
                own = frozenset(nestml_sources(spec))
                if own:
                    self._modules.setdefault(own, module)

    def subject(self, spec: Spec) -> Subject:
        assert spec.model is not None
        if spec.model.nest_builtin or (spec.model.neuron is not None and spec.model.neuron.nest_builtin):
            raise BuildError("a spec whose model under test is a NEST built-in cannot run on the Python target")
        with self._mutex:
            module = self._build(nestml_sources(spec))
        subject = subject_from(spec.model, module)
        subject.python_module = module  # type: ignore[attr-defined]  # the generated classes, for the runner
        return subject


def _model_values(pop) -> dict[str, float]:
    out = {}
    for key in (*pop.model.parameters, *pop.model.state):
        value = pop.get(key)
        if value.dtype != object:
            out[key] = float(value[0])
    return out


class _ReferenceSimulator(CaseSimulator):
    """The NEST half of a Python-target case: only the live ``nest_builtin`` references."""

    def run_references(self, model_neuron: dict[str, Any], model_synapse: dict[str, Any], run: CaseRun) -> None:
        nest = self.nest
        self._reset()
        copies: dict[str, str] = {}
        recorders: dict[str, Any] = {}
        groups: dict[str, _Group] = {}
        instances: dict[str, dict[str, _Instance]] = {}
        for ref in self.live_refs:
            try:
                group = self._reference_group(ref, model_neuron, model_synapse)
                copy = None
                if group.synapse_model is not None:
                    copy = f"{group.synapse_model}__nmlcval_{group.name}"
                    wr = nest.Create("weight_recorder")
                    nest.CopyModel(group.synapse_model, copy, {"weight_recorder": wr})
                    for key, value in group.synapse_params.items():
                        nest.SetDefaults(copy, {key: value})
                    copies[group.name], recorders[group.name] = copy, wr
                instances[ref.name] = {vid: self._instantiate(group, v, copy) for vid, v in self.variants.items()}
                groups[ref.name] = group
            except Exception as exc:  # a broken reference fails its expectations, not the whole case
                run.reference_errors[ref.name] = str(exc) if isinstance(exc, HarnessError) else _nest_message(exc)
                continue
            run.provenance[ref.name] = (f"NEST {nest.__version__} built-in '{ref.data['nest_builtin']}'"
                                        + (f" with neuron '{ref.data['neuron']}'" if "neuron" in ref.data else "")
                                        + f", run live; parameters {group.neuron_params}"
                                        + (f"; synapse parameters {group.synapse_params}" if group.synapse_model
                                           else ""))
        if not groups:
            return
        for vid, variant in self.variants.items():
            self._connect_inputs(variant, [(groups[g], instances[g][vid]) for g in instances])
        try:
            nest.Simulate(self.case.duration)
        except Exception as exc:
            raise HarnessError(f"NEST simulation failed: {_nest_message(exc)}") from None
        for gname, per_variant in instances.items():
            run.references[gname] = {vid: self._collect(groups[gname], inst, recorders.get(gname))
                                     for vid, inst in per_variant.items()}


def run_case_python(spec: Spec, case: CaseSpec, subject: Subject, live_refs: list[ReferenceSpec]) -> CaseRun:
    """Simulate ``case`` with the Python target's model; ``nest_builtin`` references run in NEST."""
    from nmlc.pysim import Network, SimulationError, WeightRecorder

    module = getattr(subject, "python_module", None)
    if module is None:
        raise HarnessError("the subject was not built with the Python target")
    h = case.resolution
    net = Network(h, seed=case.seed)
    variants = {v.id: v for v in case_variants(case)}
    neuron_cls = module.model(_class_name(module, subject.neuron.nest_model))
    syn_cls = module.model(_class_name(module, subject.synapse_model)) if subject.kind == "synapse" else None
    neuron_params = dict(case.neuron_parameters if subject.kind == "synapse" else case.parameters)
    vids = list(variants)
    recorded = [vid for vid in vids if variants[vid].variables]
    try:
        # every variant is one neuron of a single population: numeric models integrate them together
        pop = net.create(neuron_cls, len(vids), label=subject.label)
        try:
            pop.set(neuron_params)
        except SimulationError as exc:
            raise HarnessError(f"model: {exc}") from None
        rec: dict[str, Any] = {"spikes": net.spike_recorder(pop), "mm": {}}
        for vid in recorded:  # only `main` records variables; one multimeter per (variables, interval)
            rec["mm"][vid] = net.multimeter(pop, list(variants[vid].variables), variants[vid].interval)
        syn = []  # per variant: (presynaptic parrots, projection, index of the variant's connection in it)
        if syn_cls is not None:
            rec["wr"] = WeightRecorder(net.tics_per_step)
            receptor = subject.neuron.spike_ports[subject.target_port].receptor
            params = dict(case.parameters)
            if syn_cls.has_mod:
                # a volume transmitter per variant, as NEST's copies have (it updates all its synapses)
                vts = []
                for k in range(len(vids)):
                    parrot = net.create("parrot_neuron", 1)
                    vts.append(net.volume_transmitter())
                    proj = net.connect(parrot, pop, synapse=syn_cls, synapse_params=params, receptor=receptor,
                                       weight_recorder=rec["wr"], targets=[k], volume_transmitter=vts[-1])
                    syn.append((parrot, proj, 0))
            else:
                parrot = net.create("parrot_neuron", len(vids))
                proj = net.connect(parrot, pop, synapse=syn_cls, synapse_params=params, receptor=receptor,
                                   weight_recorder=rec["wr"])
                syn = [(parrot, proj, k) for k in range(len(vids))]
            rec["pre"] = {id(p): net.spike_recorder(p) for p, _, _ in syn}
            rec["initial_weight"] = [float(proj.get("weight")[j]) for _, proj, j in syn]
        rec["syn"] = syn
        ports = {**subject.neuron.spike_ports, **subject.neuron.current_ports}
        for k, vid in enumerate(vids):
            variant = variants[vid]
            for cur in variant.currents:
                if cur.port not in ports:
                    raise HarnessError(f"model: no current port '{cur.port}'")
                times, amps = generator_schedule(cur, h)
                gen = net.step_current_generator(times, amps)
                net.connect(gen, pop, receptor=ports[cur.port].receptor, delay=h, targets=[k])
            for sp in variant.spikes:
                if len(sp.times) == 0:
                    continue
                if sp.port == PRE_PORT:
                    parrot, _, j = syn[k]
                    net.connect(net.spike_generator(sp.times), parrot, delay=h, targets=[j])
                    continue
                if sp.port == MOD_PORT and case.synapse:
                    if syn_cls is None or not syn_cls.has_mod:
                        raise HarnessError(f"model: synapse '{subject.label}' takes no neuromodulator spikes, but "
                                           f"the case sends spikes to port '{MOD_PORT}'")
                    # generator -> parrot -> volume transmitter, one step each (as on NEST); a spike's
                    # multiplicity is its number of copies
                    mult = np.ones(len(sp.times), dtype=np.int64) if sp.weights is None else \
                        np.rint(sp.weights).astype(np.int64)
                    relay = net.create("parrot_neuron", 1)
                    net.connect(net.spike_generator(np.repeat(sp.times, mult)), relay, delay=h)
                    net.connect(relay, syn[k][1].volume_transmitter, delay=h)
                    continue
                if sp.port not in ports:
                    raise HarnessError(f"model: no spike port '{sp.port}'")
                for delay in np.unique(sp.delays):
                    sel = sp.delays == delay
                    gen = net.spike_generator(sp.times[sel], sp.weights[sel])
                    net.connect(gen, pop, weight=1.0, delay=float(delay), receptor=ports[sp.port].receptor,
                                targets=[k])
        model_neuron = _model_values(pop)
        model_synapse: dict[str, Any] = {}
        if syn_cls is not None:
            _, proj, j = syn[0]
            model_synapse = {"weight": float(proj.get("weight")[j]), "delay": float(proj.get("delay")[j])}
            for key in (*syn_cls.parameters, *syn_cls.state):
                value = proj.get(key)
                if value.dtype != object:
                    model_synapse[key] = float(value[j])
        net.simulate(case.duration)
    except SimulationError as exc:
        raise HarnessError(f"Python target: {exc}") from None
    except ArithmeticError as exc:  # the generated runtime's NumericalInstability
        raise HarnessError(f"Python target: {exc}") from None
    run = CaseRun(variants, {}, model_parameters=model_neuron, synapse_parameters=model_synapse)
    run.provenance["model"] = (f"nmlc model '{subject.label}' on the Python target (NumPy, nmlc.pysim; module "
                               f"{module.name})")
    for k, vid in enumerate(vids):
        run.model[vid] = _recording(rec, k, vid)
    if live_refs:
        _ReferenceSimulator(spec, case, subject, live_refs).run_references(model_neuron, model_synapse, run)
    return run


def _class_name(module: Any, registered: str | None) -> str:
    for name, reg in module.models.items():
        if reg == registered:
            return name
    raise HarnessError(f"model '{registered}' is not in the Python build")


def _ms(stamp: int, tics_per_step: int) -> float:
    return 0.001 * (stamp * tics_per_step)  # NEST's step -> ms, as nmlc.pysim computes it


def _recording(rec: dict[str, Any], k: int, vid: str) -> Recording:
    """What neuron ``k`` (variant ``vid``) recorded."""
    t = np.empty(0)
    values: dict[str, np.ndarray] = {}
    mm = rec["mm"].get(vid)
    if mm is not None:
        ev = mm.events
        t = np.asarray(ev["times"], float)
        values = {v: np.asarray(ev[v][:, k], float) for v in mm.variables}
    sev = rec["spikes"].events
    out = Recording(t, values, np.sort(np.asarray(sev["times"][sev["senders"] == k], float)))
    if rec["syn"]:
        parrot, proj, j = rec["syn"][k]
        pev = rec["pre"][id(parrot)].events
        out.pre_spikes = np.sort(np.asarray(pev["times"][pev["senders"] == j], float))
        out.initial_weight = rec["initial_weight"][k]
        out.final_weight = float(proj.get("weight")[j])
        # the weight recorder numbers connections within their projection: select this variant's
        events = [(c, t, w) for c, t, w, pj in zip(rec["wr"].connections, rec["wr"].stamps, rec["wr"].weights,
                                                  rec["wr"].projections) if pj is proj and c == j]
        out.weight_t = np.asarray([_ms(t, rec["wr"].tics_per_step) for _, t, _ in events], float)
        out.weight = np.asarray([w for _, _, w in events], float)
    return out


# ------------------------------------------------------------------------------ cross-target check
#: relative size of the allowed difference between the targets for numerically integrated models, in
#: units of the solver tolerance (atol + rtol |y|): both run the same adaptive Dormand-Prince, step for
#: step, so they differ by libm rounding until an accept/reject decision at err ~ 1 flips; after that
#: each side stays within its own error control, and the difference is a few local tolerances.
NUMERIC_TOLERANCE_UNITS = 100.0
EXACT_ATOL = 1e-9  # exact propagators: round-off only (mV, pA, nS, weights)


@dataclass
class CrossTargetRow:
    """One spec case run on both targets: the largest differences and whether they are within bounds."""

    spec: str
    case: str
    model: str
    solver: str
    max_trace_diff: float
    trace_bound: float
    worst_variable: str
    spikes_nest: int
    spikes_python: int
    max_spike_dt: float
    max_weight_diff: float
    passed: bool
    message: str = ""
    duration: float = 0.0
    comparable: bool = True  # False: the model draws random numbers, which differ between the targets


def compare_runs(nest_run: CaseRun, py_run: CaseRun, solver: str, tolerances: dict[str, float]) -> CrossTargetRow:
    """Compare the model recordings of one case on both targets (every variant, variable, spike, weight).

    ``solver`` is ``exact`` or a numeric method; ``tolerances`` holds the model's ``integrator_atol`` and
    ``integrator_rtol`` for numeric models.
    """
    exact = solver == "exact"
    worst, worst_var, bound_at_worst, ok, msgs = 0.0, "", EXACT_ATOL, True, []
    n_nest = n_py = 0
    max_dt, max_dw = 0.0, 0.0
    for vid, a in nest_run.model.items():
        b = py_run.model.get(vid)
        if b is None:
            ok = False
            msgs.append(f"{vid}: missing on the Python target")
            continue
        if a.t.shape != b.t.shape or not np.array_equal(a.t, b.t):
            ok = False
            msgs.append(f"{vid}: sample times differ ({a.t.size} vs {b.t.size} samples)")
            continue
        for var, ya in a.values.items():
            yb = b.values.get(var)
            if yb is None or yb.shape != ya.shape:
                ok = False
                msgs.append(f"{vid}: {var} not recorded alike")
                continue
            diff = np.abs(ya - yb)
            if exact:
                bound = np.full(diff.shape, EXACT_ATOL)
            else:
                scale = tolerances.get("atol", 1e-6) + tolerances.get("rtol", 1e-6) * np.abs(ya)
                bound = NUMERIC_TOLERANCE_UNITS * scale
            if diff.size:
                k = int(np.argmax(diff - bound))
                if diff[k] > bound[k]:
                    ok = False
                    msgs.append(f"{vid}: {var} differs by {diff[k]:.3g} at t={a.t[k]} (bound {bound[k]:.3g})")
                j = int(np.argmax(diff))
                if diff[j] >= worst:
                    worst, worst_var, bound_at_worst = float(diff[j]), f"{var}", float(bound[j])
        n_nest += a.spikes.size
        n_py += b.spikes.size
        if a.spikes.size != b.spikes.size:
            ok = False
            msgs.append(f"{vid}: {a.spikes.size} spikes on NEST, {b.spikes.size} on Python")
        elif a.spikes.size:
            dt = float(np.max(np.abs(a.spikes - b.spikes)))
            max_dt = max(max_dt, dt)
            if dt > 1e-9:
                ok = False
                msgs.append(f"{vid}: spike times differ by up to {dt} ms")
        if a.weight is not None:
            if b.weight is None or a.weight.shape != b.weight.shape or not np.allclose(a.weight_t, b.weight_t,
                                                                                      rtol=0, atol=1e-9):
                ok = False
                msgs.append(f"{vid}: weight updates differ in number or time")
            else:
                dw = float(np.max(np.abs(a.weight - b.weight))) if a.weight.size else 0.0
                dw = max(dw, abs((a.final_weight or 0.0) - (b.final_weight or 0.0)))
                max_dw = max(max_dw, dw)
                if dw > EXACT_ATOL * max(1.0, float(np.max(np.abs(a.weight))) if a.weight.size else 1.0):
                    ok = False
                    msgs.append(f"{vid}: weights differ by {dw:.3g}")
    return CrossTargetRow("", "", "", solver, worst, bound_at_worst, worst_var, n_nest, n_py, max_dt, max_dw, ok,
                          "; ".join(msgs[:5]))


RANDOM_CALL = re.compile(r"\brandom_(normal|uniform|poisson)\s*\(")


def cross_target_case(harness_nest: Any, harness_py: Any, spec: Spec, case_name: str,
                      exact_limit: float | None = None, numeric_limit: float | None = None) -> CrossTargetRow:
    """Run one case of ``spec`` with the model on NEST and on the Python target (no references) and compare.

    ``exact_limit``/``numeric_limit`` cap the simulated duration (ms) for exact and numeric models. A model
    that draws random numbers cannot match sample by sample (the targets use different generators): a
    failed comparison of such a model is reported as not comparable.
    """
    from .checks import check_against_subject
    from .simulate import run_case_in_nest

    spec.raise_for(case_name)
    s_py = harness_py.subject(spec)
    s_nest = harness_nest.subject(spec)
    check_against_subject(spec, s_nest)
    spec.raise_for(case_name)
    case = spec.cases[case_name]
    module = s_py.python_module
    info = module.interfaces[_class_name(module, s_py.neuron.nest_model)]
    methods = sorted(set(info.solver.values())) or ["exact"]
    solver = "exact" if methods == ["exact"] else ", ".join(m for m in methods if m != "exact")
    limit = exact_limit if solver == "exact" else numeric_limit
    if limit is not None and case.duration > limit:
        case = dataclasses.replace(case, duration=limit)
    nest_run = run_case_in_nest(spec, case, s_nest, [])
    py_run = run_case_python(spec, case, s_py, [])
    tol = {"atol": float(nest_run.model_parameters.get("integrator_atol", 1e-6)),
           "rtol": float(nest_run.model_parameters.get("integrator_rtol", 1e-6))}
    row = compare_runs(nest_run, py_run, solver, tol)
    row.spec, row.case, row.model = spec.display, case_name, spec.model_label
    row.duration = case.duration
    sources = [spec.model.nestml] + ([spec.model.neuron.nestml] if spec.model.neuron is not None else [])
    if not row.passed and any(p is not None and RANDOM_CALL.search(p.read_text()) for p in sources):
        row.comparable = False
    return row


def cross_target_table(rows: list[CrossTargetRow]) -> str:
    """A Markdown table of cross-target results."""
    head = ("| spec case | solver | simulated (ms) | max trace difference (bound) | spikes NEST / Python "
            "| max spike dt (ms) | max weight difference | result |")
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        result = "pass" if r.passed else ("random draws differ (not comparable)" if not r.comparable
                                          else "FAIL: " + r.message)
        lines.append(f"| {r.model}::{r.case} | {r.solver} | {r.duration:g} | {r.max_trace_diff:.2g} "
                     f"{r.worst_variable} ({r.trace_bound:.0e}) | {r.spikes_nest} / {r.spikes_python} | "
                     f"{r.max_spike_dt:.2g} | {r.max_weight_diff:.2g} | {result} |")
    return "\n".join(lines)


def cross_target(paths: Iterable[str | Path] = ("library",), rootdir: str | Path | None = None,
                 exact_limit: float | None = None, numeric_limit: float | None = None) -> list[CrossTargetRow]:
    """Every nmlc spec case under ``paths`` on both targets, compared (see :func:`compare_runs`)."""
    from .errors import SpecError
    from .harness import Harness, discover

    h_nest = Harness(rootdir=rootdir, target="nest")
    h_py = Harness(rootdir=rootdir, target="python")
    specs = [h_nest.load(p) for p in discover(paths)]
    specs = [s for s in specs if s.model is not None and s.model.nestml is not None]
    h_nest.prebuild(specs)
    h_py.prebuild(specs)
    rows = []
    for spec in specs:
        for case in spec.case_names:
            try:
                rows.append(cross_target_case(h_nest, h_py, spec, case, exact_limit, numeric_limit))
            except (SpecError, BuildError, HarnessError) as exc:
                rows.append(CrossTargetRow(spec.display, case, spec.model_label, "?", 0.0, 0.0, "", 0, 0, 0.0, 0.0,
                                           False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    return rows


if __name__ == "__main__":  # python -m nmlc_validation.python_target [paths...]: the cross-target table
    import sys

    args = sys.argv[1:]
    limits = [None, None]
    for k, opt in enumerate(("--exact-limit", "--numeric-limit")):
        if opt in args:
            i = args.index(opt)
            limits[k] = float(args[i + 1])
            del args[i:i + 2]
    print(cross_target_table(cross_target(args or ["library"], None, *limits)))
