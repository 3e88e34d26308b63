"""Memory per neuron and per synapse: the growth of the process's resident set.

Each measurement runs in its own Python process (``python memory.py ...``) so that nothing
allocated by an earlier measurement is counted. For neurons, the difference between the resident
set after creating N neurons (and preparing the simulation, which sizes their buffers) and before,
divided by N; for synapses the same for N connections between two populations of 1000 neurons.
"""
from __future__ import annotations

import json
import subprocess
import sys


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(model: str, n: int, module_path: str | None = None) -> float:
    """Bytes per neuron of ``model`` (installing ``module_path`` first if given)."""
    return _run("neuron", model, n, module_path, "")


def measure_synapse(synapse: str, n: int, neuron: str = "iaf_psc_alpha", module_path: str | None = None,
                    params: dict | None = None) -> float:
    """Bytes per connection of ``synapse`` between neurons of model ``neuron`` (``params`` on the synapse)."""
    return _run("synapse", synapse, n, module_path, neuron, params)


def _run(kind: str, model: str, n: int, module_path: str | None, neuron: str, params: dict | None = None) -> float:
    out = subprocess.run([sys.executable, __file__, kind, model, str(n), module_path or "", neuron,
                          json.dumps(params or {})], capture_output=True, text=True, timeout=900, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory measurement of {model} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["bytes"]


def _child(kind: str, model: str, n: int, module_path: str, neuron: str, params: dict) -> None:
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    if module_path:
        nest.Install(module_path)
    if kind == "neuron":
        nest.Create(model, 10)  # warm up allocators and the model's prototype
        nest.Prepare()
        nest.Cleanup()
        before = _rss_kib()
        nest.Create(model, n)
        nest.Prepare()  # buffers are sized when the simulation is prepared
        after = _rss_kib()
    else:
        pre = nest.Create(neuron, 1000)
        post = nest.Create(neuron, 1000)
        if params:
            nest.CopyModel(model, "mem_probe", params)
            model = "mem_probe"
        nest.Connect(pre[:10], post[:10], syn_spec={"synapse_model": model})  # first-use allocations
        nest.Prepare()
        nest.Cleanup()
        before = _rss_kib()
        nest.Connect(pre, post, {"rule": "fixed_total_number", "N": n}, {"synapse_model": model})
        nest.Prepare()  # sorts connections and builds the delivery tables
        after = _rss_kib()
    print(json.dumps({"bytes": (after - before) * 1024.0 / n}))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], json.loads(sys.argv[6]))
