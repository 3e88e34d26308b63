"""The build pipeline: NESTML files in, a loadable NEST extension module out.

``build()`` hashes everything that decides the module's binary (the model sources, the
compiler's own sources, the toolchain and the options); on a cache hit it returns at once
without parsing anything. On a miss it checks, lowers and renders every model, compiles the
module into the content-hash cache (atomically, under a lock shared with other processes) and
stores a small JSON description of each model's interface beside the binary.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from .diagnostics import Diagnostics, Loc, NmlcError

if TYPE_CHECKING:
    from .targets.python.build import PythonModule

METADATA = "nmlc-module.json"
WARNINGS = "nmlc-warnings.txt"  # the rendered warnings of the compilation, replayed on every cache hit


@dataclass
class VariableInfo:
    unit: str
    default: float | None


@dataclass
class PortInfo:
    receptor: int
    sign: str | None = None
    unit: str = ""


@dataclass
class ModelInterface:
    """What a user (or the spec harness) needs to drive a generated model from PyNEST."""

    name: str
    registered: str
    kind: str
    source: str
    parameters: dict[str, VariableInfo] = field(default_factory=dict)
    state: dict[str, VariableInfo] = field(default_factory=dict)
    recordables: list[str] = field(default_factory=list)
    spike_ports: dict[str, PortInfo] = field(default_factory=dict)
    continuous_ports: dict[str, PortInfo] = field(default_factory=dict)
    solver: dict[str, str] = field(default_factory=dict)
    #: neuron-synapse co-generation: for a synapse its port roles (and paired neuron), for a
    #: co-generated neuron the synapses it serves and the states moved into it
    cogeneration: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> "ModelInterface":
        data = dict(data)
        for key in ("parameters", "state"):
            data[key] = {k: VariableInfo(**v) for k, v in data[key].items()}
        for key in ("spike_ports", "continuous_ports"):
            data[key] = {k: PortInfo(**v) for k, v in data[key].items()}
        return cls(**data)


class BuiltModule:
    """A compiled NEST extension module and the models it registers."""

    def __init__(self, path: Path, interfaces: dict[str, ModelInterface], compiled: bool, warnings: str = ""):
        self.path = path.resolve()
        self.warnings = warnings  # rendered warning diagnostics ("" when there were none)
        self.name = self.path.stem
        self.interfaces = interfaces
        self.models = {name: info.registered for name, info in interfaces.items()}
        self.compiled = compiled  # False when the cache already held it

    def install(self) -> None:
        """Load the module into the running NEST kernel (again after every ``nest.ResetKernel()``)."""
        import nest

        if all(m in nest.node_models or m in nest.synapse_models for m in self.models.values()):
            return
        nest.Install(str(self.path))

    def __repr__(self) -> str:
        return f"BuiltModule({self.name!r}, models={self.models})"


@lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """A hash of the compiler's own sources: any change to nmlc invalidates cached modules."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    # only what decides a NEST module: the CLI, reports, docs, the Python target and its simulator do not
    parts = ("syntax", "semantics", "analysis", "ir", "targets/nest", "targets/common.py", "frontend.py", "build.py",
             "diagnostics.py", "errorcodes.py", "__init__.py")
    files = [p for part in parts for p in ([root / part] if (root / part).is_file() else (root / part).rglob("*"))]
    for path in sorted(files):
        if path.suffix in (".py", ".lark", ".jinja2", ".h", ".cpp") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _read_sources(paths: Sequence[Path], diags: Diagnostics) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in paths:
        try:
            out[str(p)] = p.read_bytes()
        except OSError as exc:
            diags.report("E0100", Loc(str(p), 0, 0), reason=exc.strerror or str(exc))
    return out


def build(paths: Iterable[str | os.PathLike], build_dir: str | os.PathLike | None = None, *,
          name_suffix: str = "_nestml", jobs: int | None = None, nest_include: str | None = None,
          werror: bool = False, pairs: Iterable[tuple[str, str]] | None = None,
          target: str = "nest") -> "BuiltModule | PythonModule":
    """Compile NESTML files into one NEST module; unchanged inputs compile nothing.

    ``build_dir`` is the cache folder (default ``$NMLC_CACHE_DIR`` or ``~/.cache/nmlc``).
    Registered model names are the source names plus ``name_suffix``. ``pairs`` names
    (neuron, synapse) models to co-generate: each neuron named there is also registered as
    ``<neuron>__with_<synapse>[__with_<synapse2>...]`` with the synapses' postsynaptic-only state
    moved into it, and each paired synapse as ``<synapse>__with_<neuron>``, which connects only to
    that neuron; the plain models stay available. Raises :class:`~nmlc.diagnostics.NmlcError`
    with rendered diagnostics on any error.

    ``target="python"`` generates self-contained NumPy modules instead (a
    :class:`~nmlc.targets.python.build.PythonModule`, see docs/targets.md); NEST options do not apply.
    """
    if target == "python":
        from .targets.python.build import build_python

        if pairs:
            raise NmlcError("nmlc build: neuron-synapse pairs (co-generation) exist only for the NEST target")
        return build_python(paths, build_dir, werror=werror)
    if target != "nest":
        raise NmlcError(f"nmlc build: unknown target {target!r} (targets: nest, python)")
    from .targets.nest.cache import ModuleCache, cache_dir
    from .targets.nest.toolchain import ToolchainError, find_toolchain

    files = [Path(p).resolve() for p in paths]
    if not files:
        raise NmlcError("nmlc build: no input files")
    pair_list = _check_pairs(pairs)
    diags = Diagnostics(warnings_as_errors=werror)
    sources = _read_sources(files, diags)
    if diags.has_errors:
        raise NmlcError(diags)
    try:
        toolchain = find_toolchain(nest_include)
    except ToolchainError as exc:
        raise NmlcError(f"error[E0700]: {exc}") from exc
    h = hashlib.sha256()
    for name in sorted(sources):
        h.update(Path(name).name.encode())
        h.update(hashlib.sha256(sources[name]).digest())
    h.update(compiler_fingerprint().encode())
    h.update(toolchain.fingerprint().encode())
    h.update(f"suffix={name_suffix};werror={werror}".encode())
    if pair_list:
        h.update(("pairs=" + ";".join(f"{a}:{b}" for a, b in pair_list)).encode())
    key = h.hexdigest()[:16]
    module_name = f"nmlc_{key}"
    root = Path(build_dir) if build_dir is not None else cache_dir() / "modules"
    cache = ModuleCache(root)

    found = cache.lookup(key)
    if found is not None and (found.parent / METADATA).exists():
        return BuiltModule(found, _load_metadata(found.parent / METADATA), compiled=False,
                           warnings=_read_warnings(found.parent))

    interfaces: dict[str, ModelInterface] = {}

    def make(tmp: Path) -> Path:
        from concurrent.futures import ThreadPoolExecutor

        from .targets.nest.support import ADAPTER_OBJECT, plan_units, runtime_support_dir, uses_nest_headers
        from .targets.nest.toolchain import compile_module, support_include_dir

        # nmlc's support files (built once per toolchain) are made ready while the front end runs: the
        # adapter, and beside it the support folder (with NEST's precompiled header if the module needs it)
        with ThreadPoolExecutor(max_workers=2) as pool:
            support = pool.submit(runtime_support_dir, toolchain)
            generated, infos, warnings = _generate(files, module_name, name_suffix, werror, pair_list)
            support_include_dir(toolchain, precompile=uses_nest_headers(generated))
            runtime = support.result()
        interfaces.update(infos)
        if warnings:
            (tmp / WARNINGS).write_text(warnings)
        # units that include NEST's headers cost ~2.5 s each whatever their size: plan_units groups them
        n_jobs = jobs or 2
        groups, flags = plan_units(generated, n_jobs)
        so = compile_module(generated, tmp, module_name, toolchain, jobs=n_jobs, groups=groups, group_flags=flags,
                            include_dirs=[runtime], objects=[runtime / ADAPTER_OBJECT])
        (tmp / METADATA).write_text(json.dumps({k: asdict(v) for k, v in infos.items()}, indent=1))
        return so

    try:
        so = cache.build(key, make)
    except ToolchainError as exc:
        raise NmlcError(f"error[E0700]: build failed: {exc}") from exc
    if not interfaces:
        interfaces = _load_metadata(so.parent / METADATA)
    return BuiltModule(so, interfaces, compiled=True, warnings=_read_warnings(so.parent))


def _read_warnings(folder: Path) -> str:
    path = folder / WARNINGS
    return path.read_text() if path.exists() else ""


def _load_metadata(path: Path) -> dict[str, ModelInterface]:
    data = json.loads(path.read_text())
    return {k: ModelInterface.from_json(v) for k, v in data.items()}


def _check_pairs(pairs: Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """``pairs`` as a list of (neuron, synapse) name tuples, or a clear NmlcError."""
    out: list[tuple[str, str]] = []
    if pairs is None:
        return out
    if isinstance(pairs, (str, bytes)):
        raise NmlcError("nmlc build: pairs must be a list of (neuron, synapse) tuples, not a string")
    for pair in pairs:
        if isinstance(pair, str) and pair.count(":") == 1:
            pair = tuple(pair.split(":"))
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(x, str) and x for x in pair)):
            raise NmlcError(f"nmlc build: a pair is (neuron, synapse) or 'neuron:synapse', got {pair!r}")
        out.append((pair[0], pair[1]))
    return out


def _generate(files: list[Path], module_name: str, name_suffix: str, werror: bool,
              pairs: list[tuple[str, str]] | None = None):
    """Check, lower and render every model of ``files``: (sources, interfaces, rendered warnings), or NmlcError."""
    from .frontend import compile_models
    from .targets.nest.generator import render_module

    diags = Diagnostics(warnings_as_errors=werror)
    results = compile_models(files, diags, module_name, name_suffix, pairs)
    if diags.has_errors:
        raise NmlcError(diags)
    # a co-generated synapse lives in its neuron's translation unit (empty filename)
    sources = {r.generated.filename: r.generated.code for r in results if r.generated.filename}
    sources[f"{module_name}.cpp"] = render_module([r.generated for r in results], module_name, module_name,
                                                  [r.interface.kind for r in results])
    return sources, {r.interface.name: r.interface for r in results}, diags.render()
