"""The one place where the harness meets the model under test: ``nmlc.build`` or a NEST built-in.

Everything the rest of the harness needs about a model (NEST model names, ports, recordables, parameter
names, how to install it after ``nest.ResetKernel()``) comes out of this module as a :class:`Subject`.
"""
from __future__ import annotations

import contextlib
import difflib
import io
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


def nestml_sources(spec: Spec) -> list[Path]:
    """The ``.nestml`` files a spec needs compiled (empty for built-in subjects)."""
    out = []
    if spec.model is not None:
        for subj in (spec.model, spec.model.neuron):
            if subj is not None and subj.nestml is not None:
                out.append(subj.nestml.resolve())
    return out


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
        return ", ".join(sorted({str(v).split()[0] for v in solver.values() if str(v).strip()}))
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

    def _build(self, sources: Iterable[Path]) -> Any:
        key = frozenset(sources)
        if key in self._modules:
            return self._modules[key]
        if key in self._errors:
            raise BuildError(self._errors[key])
        build, error_type = _nmlc_api()
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(self.lock_path)):
                module = build(sorted(str(s) for s in key), build_dir=self.build_dir)
        except error_type as exc:
            self._errors[key] = str(exc)
            raise BuildError(str(exc)) from None
        self._modules[key] = module
        return module

    def prebuild(self, specs: Iterable[Spec]) -> None:
        """Build every model of ``specs`` in one go (cheap when the cache is warm). Failures are kept for
        ``subject()`` to report per spec, by building that spec's sources on their own."""
        sources = sorted({s for spec in specs for s in nestml_sources(spec)})
        if not sources:
            return
        with self._mutex:
            try:
                module = self._build(sources)
            except BuildError:
                return
            for spec in specs:
                own = frozenset(nestml_sources(spec))
                if own:
                    self._modules.setdefault(own, module)

    def subject(self, spec: Spec) -> Subject:
        """The spec's model under test; raises ``BuildError`` with the compiler's diagnostic on failure."""
        assert spec.model is not None
        model = spec.model
        with self._mutex:
            module = self._build(nestml_sources(spec)) if nestml_sources(spec) else None
        return subject_from(model, module)


def _interface_neuron(module: Any, name: str) -> NeuronTarget:
    if name not in module.interfaces:
        raise BuildError(f"unknown model: '{name}' is not defined in the compiled sources "
                         f"(found: {', '.join(sorted(module.interfaces))})")
    info = module.interfaces[name]
    return NeuronTarget(
        nest_model=module.models[name],
        # state variables are settable too (initial values such as V_m), so both count as parameters here
        parameters={k: v.default for k, v in {**info.parameters, **info.state}.items()},
        recordables=list(info.recordables),
        spike_ports={k: Port(int(p.receptor), getattr(p, "sign", None)) for k, p in info.spike_ports.items()},
        current_ports={k: Port(int(p.receptor)) for k, p in info.continuous_ports.items()},
        units={k: str(v.unit) for k, v in {**info.parameters, **info.state}.items() if getattr(v, "unit", "")},
    )


def subject_from(model: SubjectSpec, module: Any | None) -> Subject:
    """Turn a spec's ``model`` section (plus the nmlc module built for it, if any) into a :class:`Subject`."""
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
    if model.nest_builtin:
        syn_model = model.nest_builtin
        syn_params = builtin_synapse_parameters(syn_model, ("model", "nest_builtin"))
        origin = "nest_builtin"
    else:
        name = _nestml_name(model)
        if name not in module.interfaces:
            raise BuildError(f"unknown model: '{name}' is not defined in {model.nestml}")
        info = module.interfaces[name]
        if info.kind != "synapse":
            raise BuildError(f"'{name}' is a {info.kind}, but the spec pairs it with a neuron as a synapse")
        syn_model = module.models[name]
        syn_params = {k: v.default for k, v in info.parameters.items()}
        origin = "nmlc"
        solver = _solver_text(info)
    return Subject(model.label, "synapse", origin, neuron, syn_model, syn_params, model.target_port,
                   installers, solver)
