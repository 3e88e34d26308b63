"""Memory per neuron: the growth of the process's resident set when N neurons are created.

Each measurement runs in its own Python process (``python -m`` this file) so that nothing
allocated by an earlier measurement is counted; the difference between creating N and 0
neurons, divided by N, is the cost of one neuron including its buffers.
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
    out = subprocess.run([sys.executable, __file__, model, str(n), module_path or ""], capture_output=True,
                         text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])["bytes_per_neuron"]


def _child(model: str, n: int, module_path: str) -> None:
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    if module_path:
        nest.Install(module_path)
    nest.Create(model, 10)  # warm up allocators and the model's prototype
    nest.Prepare()
    nest.Cleanup()
    before = _rss_kib()
    nest.Create(model, n)
    nest.Prepare()  # buffers are sized when the simulation is prepared
    after = _rss_kib()
    print(json.dumps({"bytes_per_neuron": (after - before) * 1024.0 / n}))


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), sys.argv[3])
