"""Build pipeline of the Python target: NESTML files in, loadable Python modules out, cached by content.

The cache key hashes the model sources and the compiler sources that decide the generated code (the
NEST target's folder excluded, but for the printer the Python printer derives from), so an unchanged
build returns at once without importing sympy, lark or jinja2 or parsing anything: that is what makes
``nmlc build --target python`` followed by a first simulation take a fraction of a second. Each model
becomes one self-contained ``<model>.py`` (NumPy only) in the cache folder, with its bytecode (written
even where ``PYTHONDONTWRITEBYTECODE`` is set, so loading a cached model compiles nothing) and a JSON
description of every model's interface beside them.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from ...build import ModelInterface
from ...diagnostics import Diagnostics, Loc, NmlcError

METADATA = "nmlc-python.json"


#: what the generated code depends on outside this folder's siblings: the NEST printer (the Python
#: printer derives from it), but not the rest of the NEST target, the simulator, the CLI or the docs
_NEST_FILES_USED = frozenset({("targets", "nest", "printer.py"), ("targets", "nest", "__init__.py")})
_NOT_USED = (("pysim",), ("docs",), ("cli.py",), ("report.py",), ("scaffold.py",))


def _source_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        rel_dir = Path(dirpath).relative_to(root).parts
        for name in sorted(filenames):
            rel = (*rel_dir, name)
            if rel[:2] == ("targets", "nest") and rel not in _NEST_FILES_USED:
                continue
            if any(rel[:len(x)] == x for x in _NOT_USED):
                continue
            if name.endswith((".py", ".lark", ".jinja2")):
                out.append(Path(dirpath, name))
    return out


@lru_cache(maxsize=1)
def python_target_fingerprint() -> str:
    """A hash of the compiler sources the Python target's output depends on.

    Hashing ~100 files' contents costs more than the rest of a cached build, so the content hash is
    memoised in the cache under a key of every file's path, size and modification time (as make
    decides): a changed file changes its stat and so the key; an unchanged tree reads no file."""
    root = Path(__file__).parents[2]
    files = _source_files(root)
    stats = hashlib.sha256()
    for path in files:
        st = path.stat()
        stats.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    memo = default_cache_dir() / "python" / ".fingerprints" / stats.hexdigest()[:32]
    try:
        cached = memo.read_text().strip()
        if len(cached) == 64:
            return cached
    except OSError:
        pass
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    digest = h.hexdigest()
    try:  # best effort: a read-only cache only costs the hashing next time
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
        tmp.write_text(digest)
        os.replace(tmp, memo)
    except OSError:
        pass
    return digest


def default_cache_dir() -> Path:
    base = os.environ.get("NMLC_CACHE_DIR")
    return Path(base) if base else Path.home() / ".cache" / "nmlc"


class PythonModule:
    """Generated Python models of one build: ``models`` maps each model name to its class."""

    def __init__(self, folder: Path, interfaces: dict[str, ModelInterface], compiled: bool):
        self.path = folder.resolve()
        self.name = self.path.name
        self.interfaces = interfaces
        self.compiled = compiled  # False when the cache already held it
        self.files = {name: self.path / f"{name}.py" for name in interfaces}
        self.models = {name: info.registered for name, info in interfaces.items()}
        self._classes: dict[str, type] = {}

    def model(self, name: str) -> type:
        """The generated class of model ``name`` (imported on first use)."""
        if name not in self.files:
            raise NmlcError(f"nmlc: no model `{name}` in this build (models: {', '.join(sorted(self.files))})")
        if name not in self._classes:
            modname = f"{self.name}_{name}"
            spec = importlib.util.spec_from_file_location(modname, self.files[name])
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
            self._classes[name] = getattr(module, name)
        return self._classes[name]

    def __getitem__(self, name: str) -> type:
        return self.model(name)

    def install(self) -> None:
        """Nothing to install (API symmetry with :class:`nmlc.build.BuiltModule`)."""

    def __repr__(self) -> str:
        return f"PythonModule({self.name!r}, models={sorted(self.models)})"


def build_python(paths: Iterable[str | os.PathLike], build_dir: str | os.PathLike | None = None, *,
                 werror: bool = False) -> PythonModule:
    """Generate one Python module per model of ``paths``; unchanged inputs generate nothing."""
    files = [Path(p).resolve() for p in paths]
    if not files:
        raise NmlcError("nmlc build: no input files")
    diags = Diagnostics(warnings_as_errors=werror)
    sources: dict[str, bytes] = {}
    for p in files:
        try:
            sources[str(p)] = p.read_bytes()
        except OSError as exc:
            diags.report("E0100", Loc(str(p), 0, 0), reason=exc.strerror or str(exc))
    if diags.has_errors:
        raise NmlcError(diags)
    h = hashlib.sha256()
    for name in sorted(sources):
        h.update(Path(name).name.encode())
        h.update(hashlib.sha256(sources[name]).digest())
    h.update(python_target_fingerprint().encode())
    h.update(f"werror={werror}".encode())
    key = h.hexdigest()[:16]
    root = Path(build_dir) if build_dir is not None else default_cache_dir() / "python"
    folder = root / f"nmlc_py_{key}"
    meta = folder / METADATA
    if meta.exists():
        return PythonModule(folder, _load(meta), compiled=False)
    import py_compile
    import tempfile

    generated, interfaces = generate(files, werror)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp_", dir=root))
    for filename, code in generated.items():
        (tmp / filename).write_text(code, encoding="utf-8")
        # the bytecode beside the source (the loader checks it against the source's time stamp)
        py_compile.compile(str(tmp / filename), cfile=importlib.util.cache_from_source(str(tmp / filename)),
                           dfile=str(folder / filename), doraise=True)
    (tmp / METADATA).write_text(json.dumps({k: asdict(v) for k, v in interfaces.items()}, indent=1))
    try:
        os.replace(tmp, folder)  # atomic: a concurrent build of the same key leaves one complete folder
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        if not meta.exists():
            raise NmlcError(f"nmlc build: cannot write the generated modules to {folder}") from None
    return PythonModule(folder, interfaces, compiled=True)


def _load(path: Path) -> dict[str, ModelInterface]:
    return {k: ModelInterface.from_json(v) for k, v in json.loads(path.read_text()).items()}


def generate(files: list[Path], werror: bool = False) -> tuple[dict[str, str], dict[str, ModelInterface]]:
    """Check, lower and render every model of ``files``: ({file name: code}, {model: interface}), or NmlcError."""
    from ...analysis import AnalysisError
    from ...frontend import _args, interface_of, synapse_interface
    from ...ir.model import IRError, build_ir
    from ...ir.synapse import build_synapse_ir
    from ...semantics import check_file
    from .generator import PyNeuronGenerator, check_identifiers
    from .synapse_generator import PySynapseGenerator

    diags = Diagnostics(warnings_as_errors=werror)
    out: dict[str, str] = {}
    infos: dict[str, ModelInterface] = {}
    seen: dict[str, Loc] = {}
    for path in files:
        for checked in check_file(path, diags):
            model, kind = checked.model, checked.kind
            if model.name in seen:
                diags.report("E0206", model.loc, name=model.name)
                continue
            seen[model.name] = model.loc
            try:
                ir = build_ir(model, kind, checked.symbols, checked.conversions)
                bad = check_identifiers(ir)
                for node, name in bad:
                    diags.report("E0600", node.loc, name=name, target="Python",
                                 hint="rename it; names starting with `_` are reserved by the Python target")
                if bad:
                    continue
                if kind == "neuron":
                    gen = PyNeuronGenerator(ir, checked.conversions).render()
                    info = interface_of(ir, model.name, str(path))
                    # what the generated module can record, in the interface's order where it has one
                    info.recordables = [r for r in info.recordables if r in gen.recordables] + \
                        [r for r in gen.recordables if r not in info.recordables]
                else:
                    syn = build_synapse_ir(ir)
                    gen = PySynapseGenerator(syn, checked.conversions).render()
                    info = synapse_interface(syn, model.name, str(path))
                out[gen.filename] = gen.code
                infos[model.name] = info
            except IRError as exc:
                code = exc.code if exc.code.startswith("E0") else "E0501"
                loc = exc.node.loc if isinstance(getattr(exc.node, "loc", None), Loc) else model.loc
                args = _args(exc)
                if "target" in args:
                    args["target"] = "Python"
                diags.report(code, loc, **args)
            except AnalysisError as exc:
                diags.report("E0501", model.loc, detail=str(exc))
    if diags.has_errors:
        raise NmlcError(diags)
    return out, infos
