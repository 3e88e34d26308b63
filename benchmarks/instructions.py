"""Instruction counts of the benchmark networks under valgrind's callgrind (``run.py --instructions``).

Wall-clock ratios on a machine shared with other work are noisy; the number of instructions executed
inside NEST's simulation loop (``SimulationManager::update_``: node updates, spike delivery, devices)
does not depend on the load. Each side runs once, in its own process, on a smaller network.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> bool:
    return shutil.which("valgrind") is not None


def count(spec: dict) -> int:
    """Instructions inside the simulation loop for one network ``spec`` (see ``_child``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               "--toggle-collect=*SimulationManager::update_*", sys.executable, __file__,
                               json.dumps(spec)], capture_output=True, text=True, timeout=3600, check=False)
        found = re.search(r"Collected\s*:\s*([\d,]+)", proc.stderr)
        if proc.returncode != 0 or not found:
            raise RuntimeError(f"callgrind run failed:\n{proc.stderr[-2000:]}")
        return int(found.group(1).replace(",", ""))


def _child(spec: dict) -> None:
    sys.path.insert(0, str(HERE))
    import nest
    import networks

    install = (lambda: nest.Install(spec["module"])) if spec.get("module") else None
    if spec["network"] == "hh":
        networks.hh_network(spec["neuron"], n=spec["size"], sim_time=spec["time"], threads=1,
                            params=spec.get("params"), install=install)
    else:
        networks.brunel(spec["neuron"], order=spec["size"], sim_time=spec["time"], threads=1,
                        synapse_model=spec.get("synapse"), stdp_params=spec.get("stdp_params"), install=install)


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
