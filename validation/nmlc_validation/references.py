"""References that are not run in the NEST kernel: Python scripts beside the model, and stored traces.

Python reference contract: the script's module docstring says what it is (its provenance) and it defines
``simulate(inp: dict) -> dict`` (or the function named in the spec). ``inp`` holds, in NEST units::

    case, variant, resolution, duration, seed
    parameters          effective model parameters (the neuron's, for synapse specs)
    synapse_parameters  synapse specs only
    currents            [{port, times, amplitudes}]: amplitude[i] reaches the neuron from times[i]
    spikes              [{port, times, weights}]: times at which each spike reaches the neuron
    record              {variables, times}: the model's sample times
    pre_spikes, post_spikes, delay   synapse specs: recorded presynaptic / postsynaptic spike times
    mod_spikes          synapse specs: times the neuromodulator spikes reach the synapse's volume transmitter
                        (spike time + 2 resolution steps; a spike of multiplicity k appears k times)

and the result may contain ``t`` plus one array per variable, ``spikes``, ``weight_t``/``weight`` and
``initial_weight``/``final_weight``.

Stored references are ``.npz`` (arrays ``t``, ``trace__<var>``, ``spikes``, ``weight_t``, ``weight``,
``initial_weight``, ``final_weight`` and a JSON ``provenance``) or ``.csv`` (``# key: value`` header lines,
then a ``t,<var>...`` table). They are only (re)written by :func:`write_stored` on purpose.
"""
from __future__ import annotations

import datetime
import gzip
import importlib.util
import io
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from .errors import HarnessError
from .simulate import CaseRun, Recording
from .spec import MOD_PORT, CaseSpec, ReferenceSpec
from .stimuli import MOD_ARRIVAL_STEPS, Variant, generator_schedule

_loaded: dict[Path, Any] = {}


def load_script(ref: ReferenceSpec) -> tuple[Any, str]:
    """Import a reference script by path; return ``(function, provenance)``."""
    path = ref.script_path().resolve()
    if path not in _loaded:
        mod_name = f"_nmlc_reference_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise HarnessError(f"reference '{ref.name}': cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise HarnessError(f"reference '{ref.name}': importing {path} failed: {_where(exc, path)}") from None
        _loaded[path] = module
    module = _loaded[path]
    func_name = ref.data.get("function", "simulate")
    func = getattr(module, func_name, None)
    if not callable(func):
        raise HarnessError(f"reference '{ref.name}': {path} defines no function '{func_name}'")
    doc = (module.__doc__ or "").strip()
    if not doc:
        raise HarnessError(f"reference '{ref.name}': {path} needs a module docstring saying what it computes "
                           f"and how (its provenance)")
    return func, f"Python reference {path.name}:{func_name} — {doc.splitlines()[0]}"


def _where(exc: Exception, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
    loc = f" ({path.name} line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{loc}"


def reference_input(case: CaseSpec, variant: Variant, run: CaseRun) -> dict[str, Any]:
    """The input dictionary a Python reference receives for one variant (see the module docstring)."""
    h = case.resolution
    model = run.model[variant.id]
    currents = []
    for cur in variant.currents:
        # the generators switch on the grid and reach the neuron one step later (connection delay = resolution)
        times, amps = generator_schedule(cur, h)
        currents.append({"port": cur.port, "times": times + h, "amplitudes": amps})
    spikes = [{"port": s.port, "times": s.times + s.delays, "weights": s.weights.copy()}
              for s in variant.spikes if s.weights is not None and s.delays is not None]
    inp: dict[str, Any] = {
        "case": case.name, "variant": variant.id, "resolution": h, "duration": case.duration, "seed": case.seed,
        "parameters": dict(run.model_parameters), "currents": currents, "spikes": spikes,
        "record": {"variables": list(variant.variables), "times": model.t.copy()},
    }
    if run.synapse_parameters:
        inp["synapse_parameters"] = dict(run.synapse_parameters)
        inp["pre_spikes"] = None if model.pre_spikes is None else model.pre_spikes.copy()
        inp["post_spikes"] = model.spikes.copy()
        inp["delay"] = float(run.synapse_parameters.get("delay", h))
        mods = [np.repeat(s.times + MOD_ARRIVAL_STEPS * h, (s.weights if s.weights is not None else
                                                            np.ones(len(s.times))).astype(int))
                for s in variant.spikes if s.port == MOD_PORT]
        inp["mod_spikes"] = np.sort(np.concatenate(mods)) if mods else np.empty(0)
    return inp


def recording_from_result(result: Any, model: Recording, who: str) -> Recording:
    """Check and convert what a Python reference returned."""
    if not isinstance(result, dict):
        raise HarnessError(f"{who} returned {type(result).__name__}, expected a dict")
    t = np.asarray(result.get("t", model.t), float)
    values = {}
    for key, val in result.items():
        if key in ("t", "spikes", "weight_t", "weight", "initial_weight", "final_weight"):
            continue
        arr = np.asarray(val, float)
        if arr.shape != t.shape:
            raise HarnessError(f"{who}: '{key}' has {arr.size} samples but 't' has {t.size}")
        values[key] = arr
    rec = Recording(t, values, np.sort(np.asarray(result.get("spikes", []), float)))
    if "weight" in result:
        rec.weight = np.asarray(result["weight"], float)
        rec.weight_t = np.asarray(result.get("weight_t", np.arange(len(rec.weight))), float)
    for key in ("initial_weight", "final_weight"):
        if key in result:
            setattr(rec, key, float(result[key]))
    return rec


def run_python_reference(ref: ReferenceSpec, case: CaseSpec, run: CaseRun, variants: list[str]) -> dict[str, Recording]:
    """Call the reference script once per needed variant."""
    func, provenance = load_script(ref)
    run.provenance[ref.name] = provenance
    out = {}
    path = ref.script_path().resolve()
    for vid in variants:
        inp = reference_input(case, run.variants[vid], run)
        try:
            result = func(inp)
        except Exception as exc:
            raise HarnessError(f"reference '{ref.name}' failed for {vid}: {_where(exc, path)}") from None
        out[vid] = recording_from_result(result, run.model[vid], f"reference '{ref.name}'")
    return out


# -- stored references ---------------------------------------------------------------------------------------
def load_stored(ref: ReferenceSpec, case: CaseSpec) -> tuple[Recording, str]:
    """Read a stored reference for ``case``; returns the recording and its provenance header."""
    path = ref.stored_path(case.name)
    if not path.is_file():
        raise HarnessError(f"reference '{ref.name}': stored file {path} does not exist; create it on purpose with "
                           f"`nox -s references` (nmlc_validation.regenerate_references)")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if "provenance" not in data:
                raise HarnessError(f"reference '{ref.name}': {path} has no provenance header")
            prov = json.loads(str(data["provenance"]))
            values = {k[len("trace__"):]: np.asarray(data[k], float) for k in data.files if k.startswith("trace__")}
            rec = Recording(np.asarray(data["t"], float) if "t" in data else np.empty(0), values,
                            np.asarray(data["spikes"], float) if "spikes" in data else np.empty(0))
            if "weight" in data:
                rec.weight_t, rec.weight = np.asarray(data["weight_t"], float), np.asarray(data["weight"], float)
            for key in ("initial_weight", "final_weight"):
                if key in data:
                    setattr(rec, key, float(data[key]))
        return rec, _provenance_line(prov, path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        text = fh.read()
    header = {}
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            header[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    if not header:
        raise HarnessError(f"reference '{ref.name}': {path} has no '# key: value' provenance header")
    names = [n.strip() for n in body[0].split(",")]
    table = np.loadtxt(io.StringIO("\n".join(body[1:])), delimiter=",", ndmin=2)
    cols = {n: table[:, i] for i, n in enumerate(names)}
    if "t" not in cols:
        raise HarnessError(f"reference '{ref.name}': {path} has no 't' column")
    return Recording(cols.pop("t"), cols, np.empty(0)), _provenance_line(header, path)


def _provenance_line(prov: dict, path: Path) -> str:
    made = prov.get("generated_by_provenance") or prov.get("generated_by", "?")
    return f"stored reference {path.name} (created {prov.get('created', '?')}, from {made})"


def write_stored(ref: ReferenceSpec, case: CaseSpec, rec: Recording, provenance: dict[str, Any]) -> Path:
    """Write a stored reference file (compressed ``.npz`` or ``.csv[.gz]``) with a provenance header."""
    path = ref.stored_path(case.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    prov = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0], **provenance}
    if path.suffix == ".npz":
        arrays: dict[str, Any] = {"provenance": np.asarray(json.dumps(prov, sort_keys=True)), "t": rec.t,
                                  "spikes": rec.spikes}
        for k, v in rec.values.items():
            arrays[f"trace__{k}"] = v
        if rec.weight is not None and rec.weight_t is not None:
            arrays["weight_t"], arrays["weight"] = rec.weight_t, rec.weight
        for key in ("initial_weight", "final_weight"):
            if getattr(rec, key) is not None:
                arrays[key] = np.asarray(getattr(rec, key))
        np.savez_compressed(path, **arrays)
        return path
    if not (path.suffix == ".csv" or path.name.endswith(".csv.gz")):
        raise HarnessError(f"reference '{ref.name}': stored file must end in .npz, .csv or .csv.gz: {path}")
    lines = [f"# {k}: {str(v).replace(chr(10), ' ')}" for k, v in prov.items()]
    names = ["t"] + list(rec.values)
    lines.append(",".join(names))
    table = np.column_stack([rec.t] + [rec.values[n] for n in names[1:]]) if len(rec.t) else np.empty((0, len(names)))
    lines += [",".join(repr(float(x)) for x in row) for row in table]
    data = "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path
