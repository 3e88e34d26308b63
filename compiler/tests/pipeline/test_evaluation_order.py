"""`and` / `or` evaluate left to right and stop early, in the generated NEST code as in the source.

A guard like ``i < n and x[i] > 0`` is only safe in that order; sympy sorts the operands of its own
``And``/``Or``, which once put the vector read first (an out-of-bounds read that crashed a run). The
model below makes the order observable without undefined behaviour: a random draw in the second operand
must not happen when the first operand already decides, so the random stream seen afterwards is the same
as in a model without the guards.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nmlc.build import build

_MODEL = """
model guarded:
    parameters:
        n integer = 2
        x[n] real = 1
    state:
        hits integer = 0
        y real = 0
    update:
        # the second operand draws a number: it must not run when the first decides (sympy's own And/Or
        # would put the draw first: it sorts Max after random_uniform)
        if max(t, -5 ms) < -1 ms and random_uniform(0, 1) < 2:
            hits += 1
        if max(t, -5 ms) > -1 ms or random_uniform(0, 1) < 2:
            hits += 0
        # the second operand would read x[n] if it ran
        if hits >= n and x[hits] > 0:
            hits += 1
        y = random_uniform(0, 1)
"""

_PLAIN = """
model plain:
    state:
        y real = 0
    update:
        y = random_uniform(0, 1)
"""


def _draws(tmp_path: Path, text: str, name: str) -> np.ndarray:
    import nest

    source = tmp_path / f"{name}.nestml"
    source.write_text(text)
    module = build([source])
    nest.ResetKernel()
    nest.set(rng_seed=7)
    module.install()
    neuron = nest.Create(module.models[name])
    recorder = nest.Create("multimeter", params={"record_from": ["y"], "interval": 0.1})
    nest.Connect(recorder, neuron)
    nest.Simulate(5.0)
    return np.asarray(recorder.events["y"])


def test_second_operand_runs_only_when_needed(tmp_path: Path):
    guarded = _draws(tmp_path, _MODEL, "guarded")
    plain = _draws(tmp_path, _PLAIN, "plain")
    assert len(guarded) == len(plain) > 10
    assert np.array_equal(guarded, plain)


def test_operands_printed_in_source_order(tmp_path: Path):
    source = tmp_path / "guarded.nestml"
    source.write_text(_MODEL)
    module = build([source])
    cpp = (module.path.parent / "guarded.cpp").read_text()
    assert "(S_.hits >= P_.n && P_.x[" in cpp.replace("  ", " ")
