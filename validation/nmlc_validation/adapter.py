"""The one place where the harness meets the model under test: ``nmlc.build`` or a NEST built-in.

Everything the rest of the harness needs about a model (NEST model names, ports, recordables, parameter
names, how to install it after ``nest.ResetKernel()``) comes out of this module as a :class:`Subject`.
A synapse spec with ``model.cogenerate`` is built as a neuron-synapse pair; its subject uses the
co-generated models but presents the same names as the plain pair (see :class:`CoGeneration`), so
specs, references and results do not depend on how the pair was built.
"""
from __future__ import annotations

import contextlib
import difflib
import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from filelock import FileLock

from .errors import BuildError
from .spec import Spec, SubjectSpec


@dataclass(frozen=True)
class Port:
    receptor: int
    sign: str | None = None  # "excitatory" | "inhibitory" | None


@dataclass
class NeuronTarget:
    """A neuron model as NEST knows it, with the port map the spec's stimuli are written against."""

    nest_model: str
    parameters: dict[str, Any]   # name -> default value
    recordables: list[str]
    spike_ports: dict[str, Port]
    current_ports: dict[str, Port]
    units: dict[str, str] = field(default_factory=dict)  # variable/parameter -> unit, where known


@dataclass(frozen=True)
class CoGeneration:
    """How a co-generated pair differs from the plain one, so the harness can hide the difference.

    The synapse's postsynaptic state and the parameters it needs moved into the neuron; specs keep
    writing them as synapse parameters, under the synapse's own names.
    """

    neuron_names: dict[str, str]   # synapse parameter/state -> its name in the co-generated neuron
    synapse_keeps: frozenset[str]  # of those, the ones the co-generated synapse still has as well
    hidden: frozenset[str]         # neuron entries that exist only for co-generation (not plain names)


@dataclass
class Subject:
    """The model under test, ready to instantiate: call ``install()`` after every kernel reset."""

    label: str
    kind: str                       # "neuron" | "synapse"
    origin: str                     # "nmlc" | "nest_builtin"
    neuron: NeuronTarget            # for a synapse: its post-synaptic neuron
    synapse_model: str | None = None
    synapse_parameters: dict[str, Any] = field(default_factory=dict)
    target_port: str | None = None
    installers: list[Callable[[], None]] = field(default_factory=list)
    solver: str = ""                # filled from nmlc's model interface where it says which solver it chose
    neuromodulated: bool = False    # synapses: takes neuromodulator spikes through a volume transmitter
    cogeneration: CoGeneration | None = None  # synapses built as a co-generated pair

    def install(self) -> None:
        for install in self.installers:
            install()


def _nest():
    """The ``nest`` module, imported lazily (collection must not pay for NEST's start-up) and quietly: its
    banner would otherwise land in the captured output of whichever test happens to import it first."""
    import sys

    if "nest" not in sys.modules:
        with contextlib.redirect_stdout(io.StringIO()):
            import nest  # noqa: F401
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


def builtin_neuron(name: str, spike_ports: dict, current_ports: dict, path: tuple | None = None) -> NeuronTarget:
    """A NEST built-in neuron with the port map written in the spec; raises ``BuildError`` if unknown."""
    nest = _nest()
    if name not in nest.node_models:
        close = difflib.get_close_matches(name, list(nest.node_models), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise BuildError(f"unknown model: NEST has no built-in neuron model '{name}'{hint}", path)
    defaults = nest.GetDefaults(name)
    params = {k: v for k, v in defaults.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return NeuronTarget(
        nest_model=name,
        parameters=params,
        recordables=[str(r) for r in defaults.get("recordables", [])],
        spike_ports={k: Port(int(v["receptor"]), v.get("sign")) for k, v in spike_ports.items()},
        current_ports={k: Port(int(v["receptor"])) for k, v in current_ports.items()},
    )


def builtin_synapse_parameters(name: str, path: tuple | None = None) -> dict[str, Any]:
    nest = _nest()
    if name not in nest.synapse_models:
        close = difflib.get_close_matches(name, list(nest.synapse_models), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise BuildError(f"unknown model: NEST has no built-in synapse model '{name}'{hint}", path)
    return {k: v for k, v in nest.GetDefaults(name).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _nestml_name(subj: SubjectSpec) -> str:
    assert subj.nestml is not None
    return subj.name or subj.nestml.stem


def builtin_is_neuromodulated(name: str) -> bool:
    """A NEST built-in synapse that takes neuromodulator spikes (it has a ``volume_transmitter``)."""
    return "volume_transmitter" in _nest().GetDefaults(name)


def nestml_sources(spec: Spec) -> list[Path]:
    """The ``.nestml`` files a spec needs compiled (empty for built-in subjects)."""
    out = []
    if spec.model is not None:
        for subj in (spec.model, spec.model.neuron):
            if subj is not None and subj.nestml is not None:
                out.append(subj.nestml.resolve())
    return out


def nestml_pairs(spec: Spec) -> list[tuple[str, str]]:
    """The (neuron, synapse) pair a spec with ``model.cogenerate`` needs co-generated (else empty)."""
    m = spec.model
    if m is None or not m.cogenerate or m.nestml is None or m.neuron is None or m.neuron.nestml is None:
        return []
    return [(_nestml_name(m.neuron), _nestml_name(m))]


# the compiler's codes for a pair that cannot be co-generated (E0603) or is named wrongly (E0604)
_PAIRING_CODES = re.compile(r"\bE060[34]\b|cannot be co-generated")


def _pairs_in_error(message: str, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The pairs a pairing diagnostic is about (it names both models of the pair)."""
    if not _PAIRING_CODES.search(message):
        return set()
    return {(n, s) for n, s in pairs
            if f"pair {n}:{s}" in message or (f"`{n}`" in message and f"`{s}`" in message)}


def _nmlc_api() -> tuple[Callable[..., Any], type[Exception]]:
    """``nmlc.build`` and ``nmlc.NmlcError`` (from their submodules if the package does not re-export them)."""
    import nmlc

    build = getattr(nmlc, "build", None)
    if not callable(build):
        from nmlc.build import build
    error = getattr(nmlc, "NmlcError", None)
    if error is None:
        from nmlc.diagnostics import NmlcError as error
    return build, error


def _solver_text(info: Any) -> str:
    """The interface's solver choice as short text: a dict (variable -> solver) becomes its distinct values."""
    solver = getattr(info, "solver", "") or ""
    if isinstance(solver, dict):  # e.g. {"V_m": "exact – linear, ...", "w": "rk45 – ..."} -> "exact, rk45"
        # (synapse interfaces repeat the variable: {"tr_pre": "tr_pre: exact – ..."})
        texts = [str(v).removeprefix(f"{k}:").strip() for k, v in solver.items()]
        return ", ".join(sorted({t.split()[0] for t in texts if t}))
    return str(solver)


class Builder:
    """Builds the nmlc models of many specs with one ``nmlc.build`` call, shared across pytest-xdist workers.

    The build runs under a file lock, so concurrent workers wait for the first one and then find
    everything in nmlc's build cache instead of compiling the same sources again.
    """

    def __init__(self, lock_path: Path, build_dir: Path | None = None):
        self.lock_path = Path(lock_path)
        self.build_dir = build_dir
        self._modules: dict[frozenset, Any] = {}
        self._errors: dict[frozenset, str] = {}
        self._mutex = threading.Lock()

    def _build(self, sources: Iterable[Path], pairs: Iterable[tuple[str, str]] = ()) -> Any:
        key = (frozenset(sources), frozenset(pairs))
        if key in self._modules:
            return self._modules[key]
        if key in self._errors:
            raise BuildError(*self._errors[key])
        build, error_type = _nmlc_api()
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"pairs": sorted(key[1])} if key[1] else {}
        try:
            with FileLock(str(self.lock_path)):
                module = build(sorted(str(s) for s in key[0]), build_dir=self.build_dir, **kwargs)
        except error_type as exc:
            # a pair the compiler rejects is a problem of the spec's `cogenerate`: report it there
            where = ("model", "cogenerate") if _pairs_in_error(str(exc), key[1]) else None
            self._errors[key] = (str(exc), where)
            raise BuildError(str(exc), where) from None
        self._modules[key] = module
        return module

    def prebuild(self, specs: Iterable[Spec]) -> None:
        """Build every model of ``specs`` in one go (cheap when the cache is warm). Failures are kept for
        ``subject()`` to report per spec, by building that spec's sources on their own.

        A pair the compiler rejects is left out and the rest built again, so one wrong ``cogenerate`` does
        not make every other spec compile on its own."""
        specs = list(specs)
        sources = sorted({s for spec in specs for s in nestml_sources(spec)})
        if not sources:
            return
        pairs = {p for spec in specs for p in nestml_pairs(spec)}
        with self._mutex:
            for _ in range(2):
                try:
                    module = self._build(sources, pairs)
                    break
                except BuildError as exc:
                    bad = _pairs_in_error(str(exc), pairs)
                    if not bad:
                        return
                    pairs -= bad
            else:
                return
            for spec in specs:
                own = frozenset(nestml_sources(spec))
                own_pairs = frozenset(nestml_pairs(spec))
                if own and own_pairs <= pairs:
                    self._modules.setdefault((own, own_pairs), module)

    def subject(self, spec: Spec) -> Subject:
        """The spec's model under test; raises ``BuildError`` with the compiler's diagnostic on failure."""
        assert spec.model is not None
        model = spec.model
        with self._mutex:
            module = self._build(nestml_sources(spec), nestml_pairs(spec)) if nestml_sources(spec) else None
        return subject_from(model, module, cogenerate=model.cogenerate)


def _interface_neuron(module: Any, name: str, hidden: frozenset[str] = frozenset()) -> NeuronTarget:
    """The neuron ``name`` of an nmlc module; entries in ``hidden`` (co-generation only) are left out."""
    if name not in module.interfaces:
        raise BuildError(f"unknown model: '{name}' is not defined in the compiled sources "
                         f"(found: {', '.join(sorted(module.interfaces))})")
    info = module.interfaces[name]
    # state variables are settable too (initial values such as V_m), so both count as parameters here
    values = {k: v for k, v in {**info.parameters, **info.state}.items() if k not in hidden}
    return NeuronTarget(
        nest_model=module.models[name],
        parameters={k: v.default for k, v in values.items()},
        recordables=[r for r in info.recordables if r not in hidden],
        spike_ports={k: Port(int(p.receptor), getattr(p, "sign", None)) for k, p in info.spike_ports.items()},
        current_ports={k: Port(int(p.receptor)) for k, p in info.continuous_ports.items()},
        units={k: str(v.unit) for k, v in values.items() if getattr(v, "unit", "")},
    )


def _cogenerated(model: SubjectSpec, module: Any) -> tuple[NeuronTarget, Any, str, CoGeneration, dict[str, Any]]:
    """The co-generated neuron, the synapse's interface, its NEST name, the renaming between them and the
    defaults of the moved parameters and states (under the synapse's names)."""
    assert model.neuron is not None
    neuron_name, syn_name = _nestml_name(model.neuron), _nestml_name(model)
    key = f"{syn_name}__with_{neuron_name}"
    where = ("model", "cogenerate")
    if key not in module.interfaces:
        raise BuildError(f"'{syn_name}' was not co-generated with '{neuron_name}' (the build has no '{key}')", where)
    info = module.interfaces[key]
    cogen = getattr(info, "cogeneration", None) or {}
    registered = cogen.get("neuron_model")
    cogen_neuron = next((k for k, v in module.interfaces.items() if v.registered == registered), None)
    if cogen_neuron is None or neuron_name not in module.interfaces:
        raise BuildError(f"the build names no co-generated neuron for '{key}' (neuron model '{registered}')", where)
    plain, paired = module.interfaces[neuron_name], module.interfaces[cogen_neuron]
    plain_names = {*plain.parameters, *plain.state}
    hidden = frozenset(k for k in (*paired.parameters, *paired.state) if k not in plain_names)
    renamed = dict(cogen.get("renamed", {}))
    mapping = CoGeneration(renamed, frozenset(k for k in renamed if k in info.parameters), hidden)
    values = {**paired.parameters, **paired.state}
    defaults = {syn_key: values[n].default for syn_key, n in renamed.items() if n in values}
    return _interface_neuron(module, cogen_neuron, hidden), info, module.models[key], mapping, defaults


def subject_from(model: SubjectSpec, module: Any | None, cogenerate: bool = False) -> Subject:
    """Turn a spec's ``model`` section (plus the nmlc module built for it, if any) into a :class:`Subject`.

    ``cogenerate`` (NEST target, for specs with ``model.cogenerate``) takes the co-generated pair from
    ``module``; otherwise the plain models are used, as a target without co-generation does."""
    installers: list[Callable[[], None]] = [module.install] if module is not None else []
    solver = ""
    if not model.is_synapse:
        if model.nest_builtin:
            neuron = builtin_neuron(model.nest_builtin, model.spike_ports, model.current_ports,
                                    ("model", "nest_builtin"))
            return Subject(model.label, "neuron", "nest_builtin", neuron)
        name = _nestml_name(model)
        neuron = _interface_neuron(module, name)
        if module.interfaces[name].kind != "neuron":
            raise BuildError(f"'{name}' is a {module.interfaces[name].kind}: a synapse spec needs model.neuron "
                             f"and model.target_port")
        solver = _solver_text(module.interfaces[name])
        return Subject(model.label, "neuron", "nmlc", neuron, installers=installers, solver=solver)

    assert model.neuron is not None
    post = model.neuron
    if post.nest_builtin:
        neuron = builtin_neuron(post.nest_builtin, post.spike_ports, post.current_ports,
                                ("model", "neuron", "nest_builtin"))
    else:
        neuron = _interface_neuron(module, _nestml_name(post))
    mapping: CoGeneration | None = None
    if model.nest_builtin:
        syn_model = model.nest_builtin
        syn_params = builtin_synapse_parameters(syn_model, ("model", "nest_builtin"))
        origin = "nest_builtin"
        modulated = builtin_is_neuromodulated(syn_model)
    else:
        name = _nestml_name(model)
        moved: dict[str, Any] = {}
        if cogenerate:  # (a synapse reading continuous inputs exists only co-generated: no plain interface)
            neuron, info, syn_model, mapping, moved = _cogenerated(model, module)
        else:
            if name not in module.interfaces:
                raise BuildError(f"unknown model: '{name}' is not defined in {model.nestml}")
            info = module.interfaces[name]
            if info.kind != "synapse":
                raise BuildError(f"'{name}' is a {info.kind}, but the spec pairs it with a neuron as a synapse")
            syn_model = module.models[name]
        # moved parameters and states keep their synapse names (and the defaults they have in the neuron)
        syn_params = {**{k: v.default for k, v in info.parameters.items()}, **moved}
        origin = "nmlc"
        solver = _solver_text(info)
        roles = (getattr(info, "cogeneration", None) or {}).get("roles", {})
        modulated = bool(roles.get("mod"))
    return Subject(model.label, "synapse", origin, neuron, syn_model, syn_params, model.target_port,
                   installers, solver, neuromodulated=modulated, cogeneration=mapping)
