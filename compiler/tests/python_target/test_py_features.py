"""Vector variables, the implicit (Rosenbrock) solver and a cached build's start-up on the Python target."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import nmlc
import numpy as np
import pytest
import scipy.integrate
from nmlc.pysim import Network, SimulationError
from nmlc.targets.python import runtime as rt

from .conftest import ROOT, lib, write_model

VECTORS = """model vecs:
    parameters:
        n integer = 3 [[n >= 1]]
        gains[n] real = 2
        offsets[n] real = 0
    state:
        k integer = 0
        acc real = 0
        seen[n] real = -1
    update:
        # walks through the vectors, one element per step; reads past the end only under a false guard
        if k < n and gains[k] > 0:
            acc += gains[k] * offsets[k]
            seen[k] = acc
            seen[k] += 0.5
        k += 1
"""


def _vectors(tmp_path):
    return nmlc.build([write_model(tmp_path, VECTORS)], tmp_path / "cache", target="python")["vecs"]


def test_vectors_per_neuron_sizes_reads_and_writes(tmp_path):
    cls = _vectors(tmp_path)
    obj = cls(2, 0.1)
    assert cls.vectors == ["gains", "offsets", "seen"]
    assert [v.tolist() for v in obj.get("gains")] == [[2.0, 2.0, 2.0]] * 2  # n copies of the default
    # neuron 0: three elements, neuron 1: two (set per neuron, with the size parameter)
    obj.set({"n": [3, 2], "gains": [[1.0, 2.0, 3.0], [4.0, -1.0]], "offsets": [[1.0, 1.0, 1.0], [1.0, 1.0]],
             "seen": [[0.0, 0.0, 0.0], [0.0, 0.0]]})
    obj.prepare()
    for step in range(4):
        obj.update(step, [], [], [])
    assert obj.get("acc").tolist() == [6.0, 4.0]
    assert [v.tolist() for v in obj.get("seen")] == [[1.5, 3.5, 6.5], [4.5, 0.0]]


def test_vector_sizes_are_guarded_and_a_failed_set_changes_nothing(tmp_path):
    cls = _vectors(tmp_path)
    obj = cls(1, 0.1)
    with pytest.raises(ValueError, match="gains must have as many elements as its declared size"):
        obj.set({"n": 4})
    assert obj.get("n").tolist() == [3] and obj.get("gains")[0].tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="offsets is a vector"):
        obj.set({"offsets": 1.0})
    obj.set({"n": 1, "gains": [5.0], "offsets": [2.0], "seen": [0.0]})
    assert obj.get("gains")[0].tolist() == [5.0]


def test_a_vector_index_out_of_range_is_a_clear_simulation_error(tmp_path):
    src = write_model(tmp_path, """model vecbad:
    parameters:
        n integer = 2
    state:
        k integer = 0
        x[n] real = 0
    update:
        x[k] = 1
        k += 1
""")
    cls = nmlc.build([src], tmp_path / "cache", target="python")["vecbad"]
    net = Network(0.1)
    net.create(cls, 2)
    with pytest.raises(SimulationError, match=r"vecbad: x: index 2 is out of range \(the vector has 2 elements\)"):
        net.simulate(1.0)


def test_vector_runtime_helpers():
    A, L = rt._rt_vfull(1.5, np.array([2, 0, 3]), 3, float)
    assert A.shape == (3, 3) and L.tolist() == [2, 0, 3]
    got = rt._rt_vget(A, L, np.array([1, 0, 5]))
    assert got[0] == 1.5 and np.isnan(got[1]) and np.isnan(got[2])  # out of range reads NaN
    rt._rt_vput(A, L, 2, 7.0, np.array([False, False, True]), "m: v")
    assert A[2, 2] == 7.0
    with pytest.raises(rt.ModelError, match="m: v: index 2"):
        rt._rt_vput(A, L, 2, 7.0, np.array([True, False, False]), "m: v")
    B, M = rt._rt_vset(A, L, [[1.0], [2.0, 3.0, 4.0, 5.0], []], np.arange(3), float, "m: v")
    assert B.shape == (3, 4) and M.tolist() == [1, 4, 0] and [r.tolist() for r in rt._rt_vrows(B, M)] == \
        [[1.0], [2.0, 3.0, 4.0, 5.0], []]


def test_inhomogeneous_poisson_generator_runs_on_the_python_target(tmp_path):
    """The library generator with vector parameters: the rate schedule is followed per neuron."""
    m = nmlc.build([ROOT / "library" / "generators" / "inhomogeneous_poisson" / "inhomogeneous_poisson.nestml"],
                   tmp_path, target="python")
    net = Network(0.1, seed=5)
    pop = net.create(m["inhomogeneous_poisson"], 2, {"n_segments": 2, "rate_times": [[10.0, 500.0], [10.0, 20.0]],
                                                     "rate_values": [[2000.0, 0.0], [0.0, 3000.0]]})
    rec = net.spike_recorder(pop)
    mm = net.multimeter(pop, ["rate"], 1.0)
    net.simulate(1000.0)
    ev = rec.events
    counts = [np.count_nonzero(ev["senders"] == k) for k in range(2)]
    # 2000 Hz for 0.49 s and 3000 Hz for 0.98 s: Poisson counts within 6 standard deviations
    assert abs(counts[0] - 980) < 6 * np.sqrt(980) and abs(counts[1] - 2940) < 6 * np.sqrt(2940)
    assert np.all(ev["times"][ev["senders"] == 0] <= 500.0 + 1e-9) and np.all(ev["times"] > 9.95)
    rate = mm.events["rate"]
    assert rate[-1].tolist() == [0.0, 3000.0]


# ------------------------------------------------------------------------------------ implicit solver
STIFF = """model stiff_pair:
    parameters:
        k_fast 1/ms = 1000 / ms
        k_slow 1/ms = 0.1 / ms
        I real = 1
    state:
        x real = 1   # nmlc: solver = implicit
        y real = 0
    equations:
        x' = -k_fast * (x - y) + 0.5 * exp(-y) / 1 ms
        y' = k_slow * (I - y) - 0.01 * x**2 / 1 ms
    update:
        integrate_odes()
"""


def _stiff_rhs(t, s, k_fast=1000.0, k_slow=0.1, current=1.0):
    x, y = s
    return [-k_fast * (x - y) + 0.5 * np.exp(-y), k_slow * (current - y) - 0.01 * x * x]


def test_implicit_solver_matches_a_stiff_reference(tmp_path):
    m = nmlc.build([write_model(tmp_path, STIFF)], tmp_path / "cache", target="python")
    cls = m["stiff_pair"]
    assert set(cls.solver.values()) == {"implicit"}
    net = Network(0.1)
    pop = net.create(cls, 2, {"I": [1.0, 3.0], "integrator_atol": 1e-9, "integrator_rtol": 1e-9})
    mm = net.multimeter(pop, ["x", "y"], 0.1)
    net.simulate(20.1)
    ev = mm.events
    for k, current in enumerate((1.0, 3.0)):
        ref = scipy.integrate.solve_ivp(_stiff_rhs, (0.0, 20.0), [1.0, 0.0], method="Radau", rtol=1e-12, atol=1e-13,
                                        t_eval=ev["times"], args=(1000.0, 0.1, current))
        # a few hundred steps, each with a local error controlled to ~1e-9
        assert np.max(np.abs(ev["x"][:, k] - ref.y[0])) < 1e-6
        assert np.max(np.abs(ev["y"][:, k] - ref.y[1])) < 1e-6


def test_implicit_neurons_together_equal_each_alone(tmp_path):
    cls = nmlc.build([write_model(tmp_path, STIFF)], tmp_path / "cache", target="python")["stiff_pair"]

    def run(currents):
        net = Network(0.1)
        pop = net.create(cls, len(currents), {"I": currents})
        mm = net.multimeter(pop, ["x"], 0.1)
        net.simulate(10.0)
        return mm.events["x"]
    together = run([0.5, 2.0, 4.0])
    for k, c in enumerate((0.5, 2.0, 4.0)):
        assert np.array_equal(together[:, k], run([c])[:, 0])


def test_rosenbrock_lu_matches_numpy_with_pivoting():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4, 5))
    A[0, 0, :] = 0.0  # forces a row exchange in every column
    b = rng.normal(size=(4, 5))
    lu = A.copy()
    piv, ok = rt._rt_lu_factor(lu)
    assert ok.all()
    x = rt._rt_lu_solve(lu, piv, b.copy())
    for c in range(5):
        assert np.allclose(x[:, c], np.linalg.solve(A[:, :, c], b[:, c]), rtol=1e-12, atol=1e-12)
    singular = np.zeros((2, 2, 1))
    assert not rt._rt_lu_factor(singular)[1][0]


def test_rosenbrock_on_a_linear_stiff_system_is_near_exact():
    M = np.array([[-1000.0, 999.0], [0.0, -1.0]])

    def f(pos, tt, y):
        return M @ y

    def jac(pos, tt, y):
        return np.repeat(M[:, :, None], y.shape[1], axis=2)
    Y = np.array([[2.0], [1.0]])
    h_io = np.zeros(1)
    for _ in range(10):
        rt._rt_rodas(f, jac, Y, 0.1, h_io, 1e-10, 1e-10)
    exact = scipy.linalg_expm = __import__("scipy.linalg").linalg.expm(M * 1.0) @ np.array([2.0, 1.0])
    assert np.allclose(Y[:, 0], exact, rtol=1e-7, atol=1e-9)
    assert h_io[0] > 0.0


def test_rosenbrock_reports_nan_clearly():
    def f(pos, tt, y):
        return np.full_like(y, np.nan)

    def jac(pos, tt, y):
        return np.zeros((1, 1, y.shape[1]))
    with pytest.raises(rt.NumericalInstability, match="NaN"):
        rt._rt_rodas(f, jac, np.array([[1.0]]), 0.1, np.zeros(1), 1e-6, 1e-6, name="m")


# ------------------------------------------------------------------------------------------- start-up
def test_a_cached_build_imports_no_compiler_machinery(tmp_path):
    """The second build of the same model, its loading and a simulation import neither sympy nor lark nor
    jinja2 (they cost most of a cold start); the generated module's bytecode is in the cache."""
    cache = tmp_path / "cache"
    code = f"""
import sys, json, nmlc
from nmlc.pysim import Network
m = nmlc.build([{str(lib("neurons", "iaf_psc_exp"))!r}], {str(cache)!r}, target="python")
net = Network(0.1); pop = net.create(m["iaf_psc_exp"], 1, {{"I_e": 400.0}}); rec = net.spike_recorder(pop)
net.simulate(100.0)
print(json.dumps({{"compiled": m.compiled, "spikes": len(rec.events["times"]),
                  "heavy": sorted(x for x in ("sympy", "lark", "jinja2", "numpy.random") if x in sys.modules)}}))
"""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}", "PYTHONDONTWRITEBYTECODE": "1",
           "NMLC_CACHE_DIR": str(tmp_path / "nmlc")}
    first = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                      check=True).stdout)
    second = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                       check=True).stdout)
    assert first["compiled"] is True and "sympy" in first["heavy"]
    assert second["compiled"] is False and second["heavy"] == [] and second["spikes"] == first["spikes"] > 0
    built = next(cache.glob("nmlc_py_*"))
    assert list((built / "__pycache__").glob("iaf_psc_exp.*.pyc"))  # written despite PYTHONDONTWRITEBYTECODE


def test_the_fingerprint_follows_compiler_sources(tmp_path, monkeypatch):
    """The content hash of the compiler sources is memoised by file stats and still changes with them."""
    from nmlc.targets.python import build as pb

    monkeypatch.setenv("NMLC_CACHE_DIR", str(tmp_path))
    pb.python_target_fingerprint.cache_clear()
    first = pb.python_target_fingerprint()
    assert list((tmp_path / "python" / ".fingerprints").iterdir())
    pb.python_target_fingerprint.cache_clear()
    assert pb.python_target_fingerprint() == first  # from the memo
    files = pb._source_files(pb.Path(pb.__file__).parents[2])
    rel = {str(f.relative_to(pb.Path(pb.__file__).parents[2])) for f in files}
    # what decides the generated code is in; the NEST target's generator, the simulator and the CLI are not
    assert {"targets/nest/printer.py", "targets/common.py", "targets/python/runtime.py",
            "targets/python/templates/neuron.py.jinja2"} <= rel
    assert not {"targets/nest/generator.py", "pysim/network.py", "cli.py"} & rel
    pb.python_target_fingerprint.cache_clear()
