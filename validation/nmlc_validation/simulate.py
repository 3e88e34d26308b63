"""Run one case in NEST: the model under test and every live NEST reference, side by side in one kernel.

Each group (the model, or a ``nest_builtin`` reference) gets one independent copy of the network per
variant (the case itself, plus f-I and STDP-window points); all copies of a variant share the same
stimulus devices, so they see identical input. A neuromodulated synapse gets a volume transmitter per
copy (NEST sets it per synapse model, so each copy uses its own copy of the synapse model); spikes on
the reserved port ``mod`` reach it through a parrot neuron, two resolution steps after their time.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .adapter import NeuronTarget, Port, Subject, _nest
from .errors import HarnessError
from .spec import MOD_PORT, PRE_PORT, CaseSpec, ReferenceSpec, Spec
from .stimuli import CurrentInput, SpikeInput, Variant, case_variants, generator_schedule

# status entries that describe a node rather than parameterise it: never copied to a reference
_NOT_PARAMETERS = {
    "global_id", "model_id", "element_type", "vp", "thread", "thread_local_id", "local", "frozen",
    "node_uses_wfr", "archiver_length", "t_spike", "post_trace", "elementsize", "instantiations",
    "available", "capacity", "synaptic_elements", "num_connections", "sizeof", "synapse_modelid",
    "has_delay", "requires_symmetric", "receptor_type", "weight_recorder", "Ca",
}


def _recordables(node: Any) -> list[str]:
    """The names a multimeter can record from one NEST node (after its parameters are set: NEST's
    multisynapse models list one recordable per receptor)."""
    try:
        names = node.get("recordables")
    except Exception:  # noqa: BLE001 - a node without recordables (e.g. a parrot) records nothing
        return []
    return [str(n) for n in names]


@dataclass
class Recording:
    """What one group recorded in one variant. Times in ms; weights for synapse specs only."""

    t: np.ndarray
    values: dict[str, np.ndarray]
    spikes: np.ndarray
    pre_spikes: np.ndarray | None = None
    weight_t: np.ndarray | None = None
    weight: np.ndarray | None = None
    initial_weight: float | None = None
    final_weight: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t.tolist(), "values": {k: v.tolist() for k, v in self.values.items()},
                               "spikes": self.spikes.tolist()}
        if self.pre_spikes is not None:
            out["pre_spikes"] = self.pre_spikes.tolist()
        if self.weight_t is not None and self.weight is not None:
            out["weight_t"], out["weight"] = self.weight_t.tolist(), self.weight.tolist()
            out["initial_weight"], out["final_weight"] = self.initial_weight, self.final_weight
        return out


@dataclass
class CaseRun:
    """Everything a case produced: recordings by group and variant, effective parameters, provenance."""

    variants: dict[str, Variant]
    model: dict[str, Recording]
    references: dict[str, dict[str, Recording]] = field(default_factory=dict)
    reference_errors: dict[str, str] = field(default_factory=dict)
    model_parameters: dict[str, Any] = field(default_factory=dict)
    synapse_parameters: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass
class _Group:
    """How to instantiate one group: the neuron, its port map and variables, and (synapses) the synapse."""

    name: str
    neuron: NeuronTarget
    neuron_params: dict[str, Any]
    variables: dict[str, str]  # spec variable name -> this group's recordable
    ports: dict[str, Port]
    synapse_model: str | None = None
    synapse_params: dict[str, Any] = field(default_factory=dict)
    target_receptor: int = 0
    neuromodulated: bool = False  # the synapse takes neuromodulator spikes through a volume transmitter


@dataclass
class _Instance:
    neuron: Any
    multimeter: Any | None
    spike_recorder: Any
    pre_parrot: Any | None = None
    pre_recorder: Any | None = None
    synapse_copy: str | None = None
    volume_transmitter: Any | None = None


def _numeric(status: dict) -> dict[str, Any]:
    return {k: v for k, v in status.items()
            if k not in _NOT_PARAMETERS and isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)}


def _set_params(nest, node, params: dict[str, Any], what: str) -> None:
    # All in one call first: some parameters are only valid together (NEST's rate_times/rate_values,
    # gif's q_sfa/tau_sfa, an nmlc vector and the parameter giving its size). Only when that fails,
    # set them one by one, so the error names the offending key (NEST applies nothing of a failed set).
    with contextlib.suppress(Exception):
        node.set(dict(params))
        return
    for key, value in params.items():
        try:
            node.set({key: value})
        except Exception as exc:  # NEST raises its own error types; the message names the problem
            raise HarnessError(f"{what}: NEST rejected {key} = {value!r}: {_nest_message(exc)}") from None


def _nest_message(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def map_parameters(mapping: dict[str, Any], copy_same: bool, model_values: dict[str, Any],
                   ref_defaults: dict[str, Any], what: str) -> dict[str, Any]:
    """Reference parameter values: same-named model values (if ``copy_same``), then the explicit map, whose
    strings name a model parameter and whose numbers are fixed values."""
    out: dict[str, Any] = {}
    if copy_same:
        for key, value in model_values.items():
            if key in ref_defaults and key not in _NOT_PARAMETERS:
                out[key] = value
    for ref_key, source in mapping.items():
        if isinstance(source, str):
            if source not in model_values:
                raise HarnessError(f"{what}: parameter map '{ref_key}: {source}' names no parameter of the model")
            out[ref_key] = model_values[source]
        else:
            out[ref_key] = source
    return out


class CaseSimulator:
    """Builds and runs the NEST network of one case; see :func:`run_case_in_nest`."""

    def __init__(self, spec: Spec, case: CaseSpec, subject: Subject, live_refs: list[ReferenceSpec]):
        self.spec, self.case, self.subject, self.live_refs = spec, case, subject, live_refs
        self.nest = _nest()
        self.variants = {v.id: v for v in case_variants(case)}

    # -- set-up -------------------------------------------------------------------------------------------
    def _reset(self) -> None:
        nest = self.nest
        nest.ResetKernel()
        try:
            nest.set(resolution=self.case.resolution, local_num_threads=self.case.threads, rng_seed=self.case.seed)
        except Exception as exc:
            raise HarnessError(f"cannot configure the kernel: {_nest_message(exc)}") from None
        try:
            self.subject.install()
        except Exception as exc:
            raise HarnessError(f"cannot install the model's module: {_nest_message(exc)}") from None

    def _model_group(self) -> _Group:
        s = self.subject
        neuron_params = dict(self.case.neuron_parameters if s.kind == "synapse" else self.case.parameters)
        ports = {**s.neuron.spike_ports, **s.neuron.current_ports}
        group = _Group("model", s.neuron, neuron_params, {v: v for v in s.neuron.recordables}, ports)
        if s.kind == "synapse":
            assert s.target_port is not None
            group.synapse_model = s.synapse_model
            group.synapse_params = dict(self.case.parameters)
            group.target_receptor = s.neuron.spike_ports[s.target_port].receptor
            group.neuromodulated = s.neuromodulated
            cg = s.cogeneration
            if cg is not None:
                # co-generated: what moved into the neuron is set there, under the neuron's name for it
                for key in [k for k in group.synapse_params if k in cg.neuron_names]:
                    value = group.synapse_params[key]
                    neuron_params[cg.neuron_names[key]] = value
                    if key not in cg.synapse_keeps:
                        del group.synapse_params[key]
        return group

    def _reference_group(self, ref: ReferenceSpec, model_neuron: dict[str, Any],
                         model_synapse: dict[str, Any]) -> _Group:
        from .adapter import builtin_is_neuromodulated, builtin_neuron, builtin_synapse_parameters

        d = ref.data
        copy_same = bool(d.get("copy_same_names", True))
        what = f"reference '{ref.name}'"
        s = self.subject
        ports_spec = d.get("ports")
        all_ports = {**s.neuron.spike_ports, **s.neuron.current_ports}
        if ports_spec is None:
            ports = {name: Port(0, p.sign) for name, p in all_ports.items()}  # NEST point neurons: receptor 0
        else:
            ports = {name: Port(int(v["receptor"]), all_ports[name].sign if name in all_ports else None)
                     for name, v in ports_spec.items()}
        variables = {v: d.get("variables", {}).get(v, v) for v in s.neuron.recordables}
        if s.kind == "neuron":
            target = builtin_neuron(d["nest_builtin"], {}, {})
            params = map_parameters(d.get("parameters", {}), copy_same, model_neuron,
                                    self.nest.GetDefaults(target.nest_model), what)
            return _Group(ref.name, target, params, variables, ports)
        target = builtin_neuron(d["neuron"], {}, {})
        nparams = map_parameters(d.get("neuron_parameters", {}), copy_same, model_neuron,
                                 self.nest.GetDefaults(target.nest_model), what + " (neuron)")
        syn_defaults = builtin_synapse_parameters(d["nest_builtin"])
        sparams = map_parameters(d.get("parameters", {}), copy_same, model_synapse, syn_defaults, what)
        assert s.target_port is not None
        port = ports.get(s.target_port, Port(0))
        return _Group(ref.name, target, nparams, variables, ports, d["nest_builtin"], sparams, port.receptor,
                      builtin_is_neuromodulated(d["nest_builtin"]))

    def _instantiate(self, group: _Group, variant: Variant, syn_copy: str | None,
                     reference: bool = False) -> _Instance:
        nest = self.nest
        try:
            neuron = nest.Create(group.neuron.nest_model)
        except Exception as exc:
            raise HarnessError(f"{group.name}: cannot create '{group.neuron.nest_model}': {_nest_message(exc)}") \
                from None
        _set_params(nest, neuron, group.neuron_params, f"{group.name} neuron '{group.neuron.nest_model}'")
        inst = _Instance(neuron, None, nest.Create("spike_recorder"))
        try:
            nest.Connect(neuron, inst.spike_recorder)
        except Exception as exc:
            # a rate unit (NEST's *_rate_ipn, an nmlc model without spike output) sends no spikes:
            # nothing to record, its spike train stays empty
            if "does not send output" not in str(exc):
                raise HarnessError(f"{group.name}: cannot record the spikes of '{group.neuron.nest_model}': "
                                   f"{_nest_message(exc)}") from None
        record_from = [group.variables.get(v, v) for v in variant.variables]
        if reference and record_from:
            # a reference records only what it has (a built-in lacks the model's extra states, such as a
            # dendritic current); an expectation that compares a variable it lacks reports exactly that
            available = set(_recordables(neuron))
            record_from = [r for r in record_from if r in available]
        if record_from:
            inst.multimeter = nest.Create("multimeter", params={"interval": variant.interval,
                                                                "record_from": record_from})
            try:
                nest.Connect(inst.multimeter, neuron)
            except Exception as exc:
                raise HarnessError(f"{group.name}: cannot record {record_from}: {_nest_message(exc)}") from None
        if group.synapse_model is not None:
            inst.pre_parrot = nest.Create("parrot_neuron")
            inst.pre_recorder = nest.Create("spike_recorder")
            nest.Connect(inst.pre_parrot, inst.pre_recorder)
            if group.neuromodulated and syn_copy is not None:
                # the volume transmitter is a property of the synapse model, not of a connection: each copy
                # of the network needs its own model copy (it inherits weight recorder and parameters)
                inst.volume_transmitter = nest.Create("volume_transmitter")
                own = f"{syn_copy}__vt{inst.volume_transmitter.global_id}"
                try:
                    nest.CopyModel(syn_copy, own, {"volume_transmitter": inst.volume_transmitter})
                except Exception as exc:
                    raise HarnessError(f"{group.name}: cannot give synapse '{group.synapse_model}' a volume "
                                       f"transmitter: {_nest_message(exc)}") from None
                syn_copy = own
            inst.synapse_copy = syn_copy
            try:
                nest.Connect(inst.pre_parrot, neuron, syn_spec={"synapse_model": syn_copy,
                                                                "receptor_type": group.target_receptor})
            except Exception as exc:
                raise HarnessError(f"{group.name}: cannot connect synapse '{group.synapse_model}': "
                                   f"{_nest_message(exc)}") from None
        return inst

    def _connect_inputs(self, variant: Variant, groups: list[tuple[_Group, _Instance]]) -> None:
        nest = self.nest
        h = self.case.resolution
        for cur in variant.currents:
            devices = self._current_devices(cur, h)
            for group, inst in groups:
                port = group.ports.get(cur.port)
                if port is None:
                    raise HarnessError(f"{group.name}: no current port '{cur.port}'")
                for dev in devices:
                    nest.Connect(dev, inst.neuron, syn_spec={"receptor_type": port.receptor, "delay": h})
        for sp in variant.spikes:
            if len(sp.times) == 0:
                continue
            if sp.port == PRE_PORT:
                gen = nest.Create("spike_generator", params={"spike_times": sp.times.tolist()})
                for group, inst in groups:
                    nest.Connect(gen, inst.pre_parrot, syn_spec={"delay": h})
                continue
            if sp.port == MOD_PORT and self.case.synapse:
                self._connect_modulator(sp, groups, h)
                continue
            assert sp.weights is not None and sp.delays is not None
            for delay in np.unique(sp.delays):
                sel = sp.delays == delay
                gen = nest.Create("spike_generator", params={"spike_times": sp.times[sel].tolist(),
                                                             "spike_weights": sp.weights[sel].tolist()})
                for group, inst in groups:
                    port = group.ports.get(sp.port)
                    if port is None:
                        raise HarnessError(f"{group.name}: no spike port '{sp.port}'")
                    nest.Connect(gen, inst.neuron, syn_spec={"weight": 1.0, "delay": float(delay),
                                                             "receptor_type": port.receptor})

    def _connect_modulator(self, sp: SpikeInput, groups: list[tuple[_Group, _Instance]], h: float) -> None:
        """Neuromodulator spikes: generator -> parrot neuron -> each copy's volume transmitter (NEST's way;
        a volume transmitter takes no input from devices). Spikes in one step keep their count."""
        nest = self.nest
        params: dict[str, Any] = {"spike_times": sp.times.tolist()}
        if sp.weights is not None:
            params["spike_multiplicities"] = [int(m) for m in sp.weights]
        gen = nest.Create("spike_generator", params=params)
        relay = nest.Create("parrot_neuron")
        nest.Connect(gen, relay, syn_spec={"delay": h})
        for group, inst in groups:
            if inst.volume_transmitter is None:
                raise HarnessError(f"{group.name}: synapse '{group.synapse_model}' takes no neuromodulator "
                                   f"spikes (it has no volume_transmitter), but the case sends spikes to port "
                                   f"'{MOD_PORT}'")
            nest.Connect(relay, inst.volume_transmitter, syn_spec={"delay": h})

    def _current_devices(self, cur: CurrentInput, h: float) -> list[Any]:
        times, amps = generator_schedule(cur, h)
        return [self.nest.Create("step_current_generator", params={
            "amplitude_times": times.tolist(), "amplitude_values": amps.tolist()})]

    # -- running ------------------------------------------------------------------------------------------
    def run(self) -> CaseRun:
        nest = self.nest
        self._reset()
        model_group = self._model_group()
        synapse_copies: dict[str, str] = {}
        weight_recorders: dict[str, Any] = {}

        def synapse_copy(group: _Group) -> str | None:
            if group.synapse_model is None:
                return None
            if group.name not in synapse_copies:
                name = f"{group.synapse_model}__nmlcval_{group.name}"
                wr = nest.Create("weight_recorder")
                try:
                    nest.CopyModel(group.synapse_model, name, {"weight_recorder": wr})
                except Exception as exc:
                    raise HarnessError(f"{group.name}: cannot use synapse '{group.synapse_model}': "
                                       f"{_nest_message(exc)}") from None
                for key, value in group.synapse_params.items():
                    try:
                        nest.SetDefaults(name, {key: value})
                    except Exception as exc:
                        raise HarnessError(f"{group.name} synapse '{group.synapse_model}': NEST rejected "
                                           f"{key} = {value!r}: {_nest_message(exc)}") from None
                synapse_copies[group.name], weight_recorders[group.name] = name, wr
            return synapse_copies[group.name]

        instances: dict[str, dict[str, _Instance]] = {"model": {}}
        for vid, variant in self.variants.items():
            instances["model"][vid] = self._instantiate(model_group, variant, synapse_copy(model_group))

        first = instances["model"]["main"].neuron
        model_neuron = _numeric(first.get())
        model_synapse = _numeric(nest.GetDefaults(synapse_copies["model"])) if "model" in synapse_copies else {}
        cg = self.subject.cogeneration
        if cg is not None:
            # present a co-generated pair like the plain one: moved values under the synapse's names
            for syn_key, neuron_key in cg.neuron_names.items():
                if neuron_key in model_neuron:
                    model_synapse[syn_key] = model_neuron[neuron_key]
            model_neuron = {k: v for k, v in model_neuron.items() if k not in cg.hidden}
        run = CaseRun(self.variants, {}, model_parameters=model_neuron, synapse_parameters=model_synapse)
        run.provenance["model"] = (f"{self.subject.origin} model '{self.subject.label}' "
                                   f"(NEST {nest.__version__}; neuron '{model_group.neuron.nest_model}'"
                                   + (f", synapse '{model_group.synapse_model}'" if model_group.synapse_model else "")
                                   + ")")

        groups = {"model": model_group}
        for ref in self.live_refs:
            try:
                group = self._reference_group(ref, model_neuron, model_synapse)
                instances[ref.name] = {vid: self._instantiate(group, v, synapse_copy(group), reference=True)
                                       for vid, v in self.variants.items()}
                groups[ref.name] = group
            except Exception as exc:  # a broken reference fails its expectations, not the whole case
                run.reference_errors[ref.name] = str(exc)
                continue
            mapped = {k: v for k, v in group.neuron_params.items()}
            run.provenance[ref.name] = (f"NEST {nest.__version__} built-in '{ref.data['nest_builtin']}'"
                                        + (f" with neuron '{ref.data['neuron']}'" if "neuron" in ref.data else "")
                                        + f", run live in the same kernel; parameters {mapped}"
                                        + (f"; synapse parameters {group.synapse_params}"
                                           if group.synapse_model else ""))

        for vid, variant in self.variants.items():
            self._connect_inputs(variant, [(groups[g], instances[g][vid]) for g in instances])

        try:
            nest.Simulate(self.case.duration)
        except Exception as exc:
            raise HarnessError(f"NEST simulation failed: {_nest_message(exc)}") from None

        for gname, per_variant in instances.items():
            group = groups[gname]
            recs = {vid: self._collect(group, inst, weight_recorders.get(gname)) for vid, inst in per_variant.items()}
            if gname == "model":
                run.model = recs
            else:
                run.references[gname] = recs
        return run

    def _collect(self, group: _Group, inst: _Instance, weight_recorder: Any | None) -> Recording:
        nest = self.nest
        t = np.empty(0)
        values: dict[str, np.ndarray] = {}
        if inst.multimeter is not None:
            ev = inst.multimeter.get("events")
            order = np.argsort(ev["times"], kind="stable")
            t = np.asarray(ev["times"], float)[order]
            inverse = {v: k for k, v in group.variables.items()}
            for key, arr in ev.items():
                if key in ("times", "senders"):
                    continue
                values[inverse.get(key, key)] = np.asarray(arr, float)[order]
        spikes = np.sort(np.asarray(inst.spike_recorder.get("events")["times"], float))
        rec = Recording(t, values, spikes)
        if inst.pre_parrot is not None:
            rec.pre_spikes = np.sort(np.asarray(inst.pre_recorder.get("events")["times"], float))
            rec.initial_weight = float(nest.GetDefaults(inst.synapse_copy)["weight"])
            conns = nest.GetConnections(source=inst.pre_parrot, target=inst.neuron)
            rec.final_weight = float(np.ravel(conns.get("weight"))[0]) if len(conns) else float("nan")
            if weight_recorder is not None:
                wev = weight_recorder.get("events")
                mine = np.asarray(wev["senders"]) == inst.pre_parrot.global_id
                order = np.argsort(np.asarray(wev["times"], float)[mine], kind="stable")
                rec.weight_t = np.asarray(wev["times"], float)[mine][order]
                rec.weight = np.asarray(wev["weights"], float)[mine][order]
        return rec


def run_case_in_nest(spec: Spec, case: CaseSpec, subject: Subject, live_refs: list[ReferenceSpec]) -> CaseRun:
    """Simulate ``case`` for the model under test and the given ``nest_builtin`` references."""
    return CaseSimulator(spec, case, subject, live_refs).run()
