"""Generated Python models: build and cache, vectorisation, semantics, clear errors for what is unsupported."""
from __future__ import annotations

import subprocess
import sys

import nmlc
import numpy as np
import pytest
from nmlc.pysim import Network, SimulationError

from .conftest import BUILT_FILES, ROOT, lib, write_model


def _run(cls, n, params, steps, currents=None):
    net = Network(0.1)
    pop = net.create(cls, n, params)
    rec = net.spike_recorder(pop)
    mm = net.multimeter(pop, ["V_m"], 0.1)
    if currents is not None:
        for k, amp in enumerate(currents):
            net.connect(net.dc_generator(amp), pop, port="I_stim", delay=0.1, targets=[k])
    net.simulate(steps * 0.1)
    return mm.events["V_m"], rec.events


def test_build_is_cached_and_reports_models(built, py_cache):
    again = nmlc.build(BUILT_FILES, py_cache, target="python")
    assert again.compiled is False and again.path == built.path
    assert set(built.models) >= {"iaf_psc_exp", "stdp_synapse"}
    assert built.interfaces["iaf_psc_exp"].solver["V_m"] == "exact"
    text = (built.path / "iaf_psc_exp.py").read_text()
    assert "import nmlc" not in text and "import numpy as _np" in text  # self-contained


@pytest.mark.parametrize("model, scalar_max", [("iaf_psc_exp", 4), ("aeif_cond_exp", 4), ("aeif_cond_exp", 0)])
def test_vectorised_neurons_equal_single_runs(built, model, scalar_max, monkeypatch):
    """Neurons simulated together (different parameters and inputs) equal each simulated alone, bitwise,
    on the float path for few neurons (``_SCALAR_MAX``) and on the array path."""
    cls = built[model]
    monkeypatch.setattr(sys.modules[cls.__module__], "_SCALAR_MAX", scalar_max)
    # six neurons: more than _SCALAR_MAX, so the array path runs and hands its stragglers to the float path
    currents = [0.0, 450.0, 900.0, 600.0, 1200.0, 300.0]
    e_l = [-70.0, -65.0, -68.0, -70.0, -66.0, -69.0]
    v_all, sp_all = _run(cls, 6, {"E_L": e_l, "V_m": e_l}, 600, currents)
    for k in range(6):
        v_one, sp_one = _run(cls, 1, {"E_L": e_l[k], "V_m": e_l[k]}, 600, [currents[k]])
        assert np.array_equal(v_all[:, k], v_one[:, 0])
        assert np.array_equal(sp_all["times"][sp_all["senders"] == k], sp_one["times"])
    assert len(sp_all["times"]) > 0  # the drive makes some of them fire


def test_float_and_array_paths_of_the_solver_agree(built, monkeypatch):
    """The per-neuron float path and the array path of Dormand-Prince take the same steps."""
    cls = built["aeif_cond_exp"]
    runs = []
    for scalar_max in (4, 0):
        monkeypatch.setattr(sys.modules[cls.__module__], "_SCALAR_MAX", scalar_max)
        runs.append(_run(cls, 2, {}, 2000, [700.0, 1200.0]))
    (v_f, sp_f), (v_a, sp_a) = runs
    assert np.max(np.abs(v_f - v_a)) < 1e-9
    assert np.array_equal(sp_f["times"], sp_a["times"]) and len(sp_f["times"]) > 10


def test_refractoriness_and_reset(built):
    v, spikes = _run(built["iaf_psc_exp"], 1, {"I_e": 1000.0, "t_ref": 2.0}, 400)
    times = spikes["times"]
    assert len(times) >= 2
    # after a spike V_m stays at V_reset for t_ref = 20 steps
    k = int(round(times[0] / 0.1)) - 1
    assert np.all(v[k:k + 20, 0] == -70.0)
    assert v[k + 21, 0] > -70.0


def test_delta_kernel_jump_arrives_after_the_delay(built):
    net = Network(0.1)
    pop = net.create(built["iaf_psc_delta"], 1)
    net.connect(net.spike_generator([5.0], [2.5]), pop, delay=1.5)
    mm = net.multimeter(pop, ["V_m"], 0.1)
    net.simulate(10.0)
    t, v = mm.events["times"], mm.events["V_m"][:, 0]
    assert np.all(v[t < 6.5 - 1e-9] == -70.0)
    assert v[np.isclose(t, 6.5)][0] == pytest.approx(-67.5, abs=1e-12)


def test_current_acts_one_step_after_it_is_received(built):
    """A DC switched on at t acts from t + h: the analytic charging curve of the RC membrane."""
    net = Network(0.1)
    pop = net.create(built["iaf_psc_exp"], 1)
    net.connect(net.step_current_generator([20.0], [300.0]), pop, port="I_stim", delay=0.1)
    mm = net.multimeter(pop, ["V_m"], 0.1)
    net.simulate(60.0)
    t, v = mm.events["times"], mm.events["V_m"][:, 0]
    expected = -70.0 + 300.0 * 10.0 / 250.0 * (1 - np.exp(-np.maximum(t - 20.1, 0.0) / 10.0))
    assert np.max(np.abs(v - expected)) < 1e-9


def test_set_get_and_guards(built, tmp_path):
    cls = built["iaf_psc_exp"]
    nrn = cls(4, 0.1)
    nrn.set({"C_m": 100.0, "V_m": [-60.0, -61.0, -62.0, -63.0]})
    assert nrn.get("C_m").tolist() == [100.0] * 4 and nrn.get("V_m")[3] == -63.0
    with pytest.raises(KeyError, match="no parameter or state variable 'C_mm'"):
        nrn.set({"C_mm": 1.0})
    src = write_model(tmp_path, """model guarded:
    parameters:
        tau ms = 10 ms [[tau > 0 ms]]
    state:
        x real = 0
    equations:
        x' = -x / tau
    update:
        integrate_odes()
""")
    m = nmlc.build([src], tmp_path / "cache", target="python")
    g = m["guarded"](2, 0.1)
    with pytest.raises(ValueError, match="tau: guard violated"):
        g.set({"tau": -1.0})
    assert g.get("tau").tolist() == [10.0, 10.0]  # unchanged after the failed set


def test_control_flow_is_masked_per_neuron(tmp_path):
    """if/elif/else, while, for, locals and functions with early returns act per neuron."""
    src = write_model(tmp_path, """model flow:
    parameters:
        a integer = 0
    state:
        x real = 0
        y real = 0
        z real = 0
    function clamp(v real) real:
        if v > 3:
            return 3
        return v
    update:
        if a == 0:
            x += 1
        elif a == 1:
            x += 10
        else:
            x += 100
        k integer = 0
        while k < a:
            k += 1
        y = k
        for i in 0 ... a step 1:
            z += i
        z = clamp(z)
""")
    m = nmlc.build([src], tmp_path / "cache", target="python")
    obj = m["flow"](3, 0.1)
    obj.set({"a": [0, 1, 2]})
    obj.prepare()
    obj.update(0, [], [], [])
    assert obj.get("x").tolist() == [1.0, 10.0, 100.0]
    assert obj.get("y").tolist() == [0.0, 1.0, 2.0]
    assert obj.get("z").tolist() == [0.0, 1.0, 3.0]


@pytest.mark.parametrize("text, fragment", [
    ("""model vecport:
    state:
        y real = 0
    input:
        spikes[2] <- spike
    update:
        y += 1
""", "vector port `spikes`"),
    ("""model vecsyn:
    parameters:
        d ms = 1 ms
        n integer = 2
        ws[n] real = 1
    input:
        pre_spikes <- spike
    output:
        spike(weight real, delay ms)
    onReceive(pre_spikes):
        emit_spike(ws[0], d)
""", "vector variable `ws`"),
    ("""model veclocal:
    state:
        y real = 0
    update:
        buf[3] real = 0
        y = 1
""", "a local vector variable"),
])
def test_unsupported_features_are_clear_errors(tmp_path, text, fragment):
    src = write_model(tmp_path, text)
    with pytest.raises(nmlc.NmlcError) as info:
        nmlc.build([src], tmp_path / "cache", target="python")
    assert fragment in str(info.value) and "E0602" in str(info.value)


def test_unknown_target_and_pairs_are_rejected(tmp_path):
    with pytest.raises(nmlc.NmlcError, match="unknown target 'c'"):
        nmlc.build([lib("neurons", "iaf_psc_exp")], tmp_path, target="c")
    with pytest.raises(nmlc.NmlcError, match="only for the NEST target"):
        nmlc.build([lib("neurons", "iaf_psc_exp")], tmp_path, target="python", pairs=[("a", "b")])


def test_cli_build_target_python(tmp_path):
    env_path = f"{ROOT / 'compiler'}"
    cmd = [sys.executable, "-m", "nmlc.cli", "build", "--target", "python", "-o", str(tmp_path),
           str(lib("neurons", "iaf_psc_exp"))]
    out = subprocess.run(cmd, capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert "iaf_psc_exp -> iaf_psc_exp" in out.stdout and "compiled in" in out.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": ""})
    assert "up to date (cache)" in again.stderr
    bad = subprocess.run(cmd[:-1] + [str(tmp_path / "missing.nestml")], capture_output=True, text=True,
                         env={"PYTHONPATH": env_path, "PATH": ""})
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "missing.nestml" in bad.stderr


def test_pysim_rejects_bad_use(built):
    net = Network(0.1)
    pop = net.create(built["iaf_psc_exp"], 2)
    with pytest.raises(SimulationError, match="no spike port 'exc'"):
        net.connect(net.spike_generator([1.0]), pop, port="exc")
    with pytest.raises(SimulationError, match="at least one step"):
        net.connect(net.spike_generator([1.0]), pop, delay=0.01)
    with pytest.raises(SimulationError, match="no recordable 'V'"):
        net.multimeter(pop, ["V"])
    with pytest.raises(SimulationError, match="multiple of the resolution"):
        net.simulate(0.05)
    with pytest.raises(SimulationError, match="no parameter or state variable"):
        pop.set(C=1.0)


def test_several_spikes_in_one_step_are_all_counted(built):
    """With t_ref = 0 and a huge drive, sub-step events fire several times per step, as on NEST."""
    _, spikes = _run(built["aeif_cond_exp"], 1, {"I_e": 150000.0, "a": 0.0, "b": 5.0, "t_ref": 0.0}, 500)
    times = spikes["times"]
    assert len(times) > 500  # more spikes than the 500 steps
    assert len(np.unique(times)) < len(times)


def test_convolutions_advance_once_per_step_however_often_integrate_odes_runs(tmp_path):
    """A kernel's state decays exactly once per step: with one integrate_odes call, with two, and with none
    (caught up after the update block), as on the NEST target."""
    src = write_model(tmp_path, """model kern:
    parameters:
        tau ms = 5 ms
        mode integer = 0
    state:
        x real = 0
    equations:
        kernel K = exp(-t / tau)
        x' = -x / ms + convolve(K, spikes) / ms
    input:
        spikes <- spike
    update:
        if mode == 1:
            integrate_odes()
            integrate_odes()
        elif mode == 0:
            integrate_odes()
""")
    cls = nmlc.build([src], tmp_path / "cache", target="python")["kern"]
    (kstate,) = cls.internal_state
    net = Network(0.1)
    pop = net.create(cls, 3, {"mode": [0, 1, 2]})
    net.connect(net.spike_generator([1.0]), pop, rule="all_to_all", weight=2.0, delay=0.1)
    mm = net.multimeter(pop, [kstate], 0.1)
    net.simulate(10.0)
    ev = mm.events
    t, k = ev["times"], ev[kstate]
    after = t > 1.05
    expected = 2.0 * np.exp(-(t[after] - 1.1) / 5.0)  # the spike arrives in the step ending at 1.1 ms
    for col in range(3):
        assert np.allclose(k[after, col], expected, rtol=1e-12, atol=0.0)


def test_print_interpolates_names_with_units(tmp_path, capfd):
    src = write_model(tmp_path, """model talk:
    parameters:
        tau ms = 10 ms
    state:
        x real = 0
    update:
        x += 1
        println("tau={tau}, x={x} and {x}")
""")
    obj = nmlc.build([src], tmp_path / "cache", target="python")["talk"](1, 0.1)
    obj.update(0, [], [], [])
    assert capfd.readouterr().out == "tau=10.0 ms, x=1.0 and 1.0\n"
