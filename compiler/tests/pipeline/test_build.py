"""The build pipeline end to end: cache behaviour, the CLI, and target-side name checks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nmlc.build import build
from nmlc.diagnostics import NmlcError

ROOT = Path(__file__).resolve().parents[3]
IAF_PSC_EXP = ROOT / "library" / "neurons" / "iaf_psc_exp" / "iaf_psc_exp.nestml"


def _nmlc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nmlc.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ}, timeout=600)


def test_warm_build_compiles_nothing():
    first = build([IAF_PSC_EXP])
    t0 = time.perf_counter()
    second = build([IAF_PSC_EXP])
    took = time.perf_counter() - t0
    assert second.compiled is False
    assert second.path == first.path
    assert second.models == {"iaf_psc_exp": "iaf_psc_exp_nestml"}
    print(f"warm build: {took:.3f} s")


def test_changed_model_gets_new_module_name(tmp_path: Path):
    a = tmp_path / "leak.nestml"
    a.write_text(_LEAK.format(tau="10"))
    m1 = build([a])
    a.write_text(_LEAK.format(tau="12"))
    m2 = build([a])
    assert m1.name != m2.name
    assert m1.models == m2.models == {"leak": "leak_nestml"}
    assert m2.interfaces["leak"].parameters["tau"].default == 12.0


def test_built_model_runs_in_nest(tmp_path: Path):
    import nest
    import numpy as np

    a = tmp_path / "leak.nestml"
    a.write_text(_LEAK.format(tau="10"))
    mod = build([a])
    nest.ResetKernel()
    mod.install()
    neuron = nest.Create(mod.models["leak"], params={"V": 1.0, "tau": 5.0})
    mm = nest.Create("multimeter", params={"record_from": ["V"], "interval": 1.0})
    nest.Connect(mm, neuron)
    nest.Simulate(11.0)
    ev = mm.events
    # analytic solution of V' = -V/tau, V(0) = 1, recorded at the end of each step
    assert np.max(np.abs(ev["V"] - np.exp(-ev["times"] / 5.0))) < 1e-13
    nest.ResetKernel()
    mod.install()  # again after a reset
    assert nest.GetDefaults(mod.models["leak"])["tau"] == 10.0


_LEAK = """
model leak:
    parameters:
        tau ms = {tau} ms
    state:
        V real = 0
    equations:
        V' = -V / tau
    update:
        integrate_odes()
"""


def test_cli_check_syntax_error(tmp_path: Path):
    bad = tmp_path / "bad.nestml"
    bad.write_text("model m:\n    state:\n        V_m mV = -70 mV +\n")
    r = _nmlc("check", str(bad))
    assert r.returncode == 1
    assert f"{bad}:3:" in r.stderr and "error[E01" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_check_valid_library_model():
    r = _nmlc("check", str(IAF_PSC_EXP))
    assert r.returncode == 0, r.stderr


def test_cli_build_prints_module_and_models():
    r = _nmlc("build", str(IAF_PSC_EXP))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].endswith(".so") and Path(lines[0]).is_file()
    assert "iaf_psc_exp -> iaf_psc_exp_nestml" in r.stdout


def test_cli_build_error_leaves_nothing(tmp_path: Path):
    bad = tmp_path / "bad.nestml"
    bad.write_text("model m:\n    state:\n        V real = 0\n    equations:\n        V' = -W\n")
    out = tmp_path / "out"
    r = _nmlc("build", str(bad), "-o", str(out))
    assert r.returncode == 1
    assert "error[" in r.stderr and "Traceback" not in r.stderr
    assert not list(out.rglob("*.so"))


def test_reserved_cpp_name_is_rejected(tmp_path: Path):
    f = tmp_path / "kw.nestml"
    f.write_text("model kw:\n    parameters:\n        new real = 1\n    state:\n        V real = 0\n"
                 "    equations:\n        V' = -V * new / ms\n    update:\n        integrate_odes()\n")
    with pytest.raises(NmlcError) as exc:
        build([f], tmp_path / "cache")
    assert "E0600" in str(exc.value) and "new" in str(exc.value)


def test_builtin_name_clash_is_rejected(tmp_path: Path):
    f = tmp_path / "iaf_psc_alpha.nestml"
    shutil.copy(ROOT / "library" / "neurons" / "iaf_psc_alpha" / "iaf_psc_alpha.nestml", f)
    with pytest.raises(NmlcError) as exc:
        build([f], tmp_path / "cache", name_suffix="")
    assert "E0601" in str(exc.value)


_PINNED = """
model pinned:
    # nmlc: solver(V) = implicit
    # nmlc: solver(U) = euler
    parameters:
        tau ms = 10 ms
    state:
        V real = 1
        W real = 1
        U real = 1
    equations:
        V' = -V / tau
        W' = -W**3 / tau
        U' = -U / tau
    update:
        integrate_odes()
"""


def test_solver_pragmas_pick_the_integrator(tmp_path: Path):
    """Pinned Rosenbrock, default Dormand-Prince and pinned Euler, each against its closed form."""
    import nest
    import numpy as np

    f = tmp_path / "pinned.nestml"
    f.write_text(_PINNED)
    mod = build([f])
    solver = mod.interfaces["pinned"].solver
    assert solver == {"V": "implicit", "W": "rk45", "U": "euler"}
    nest.ResetKernel()
    mod.install()
    neuron = nest.Create(mod.models["pinned"], params={"integrator_atol": 1e-10, "integrator_rtol": 1e-10})
    mm = nest.Create("multimeter", params={"record_from": ["V", "W", "U"], "interval": 0.1})
    nest.Connect(mm, neuron)
    nest.Simulate(20.0)
    ev = mm.events
    t = ev["times"]
    assert np.max(np.abs(ev["V"] - np.exp(-t / 10))) < 1e-8
    assert np.max(np.abs(ev["W"] - 1 / np.sqrt(1 + 2 * t / 10))) < 1e-8
    # forward Euler is exact for its own recurrence: U_k = (1 - h/tau)^k
    assert np.max(np.abs(ev["U"] - (1 - 0.01) ** np.round(t / 0.1))) < 1e-14


def test_unknown_solver_pragma_is_an_error(tmp_path: Path):
    f = tmp_path / "bad_pragma.nestml"
    f.write_text(_PINNED.replace("= implicit", "= banana"))
    with pytest.raises(NmlcError) as exc:
        build([f], tmp_path / "cache")
    assert ":3:" in str(exc.value) and "banana" in str(exc.value)
