"""Models written the way NESTML users write them, built for NEST and run against NEST's built-ins.

Each model in ``models/`` uses language features of a NESTML version (the ``end`` blocks of NESTML
2-4, untyped delta kernels, two-part ODE kernels, handler assignments to derivatives, ``get_weight``,
``emit_spike(w)``, ...); the tests drive a model and its NEST counterpart with the same mixed input
(current steps, excitatory and inhibitory spike trains with NEST's signed weights, Poisson trains
through parrot neurons) and compare membrane potentials and spike times: to 1e-9 mV for models NEST
solves exactly, within the built-in's own solver error for the others.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

MODELS = Path(__file__).parent / "models"
T_END = 300.0


@pytest.fixture(scope="module")
def module():
    """Every compat model in one module, the STDP synapse also co-generated with the legacy neuron."""
    from nmlc.build import build

    return build(sorted(MODELS.glob("*.nestml")), pairs=[("legacy_end_lif", "stdp_emit_weight_synapse")])


@pytest.fixture()
def nest(module):
    import nest as nest_

    nest_.verbosity = nest_.VerbosityLevel.ERROR
    nest_.ResetKernel()
    nest_.resolution = 0.1
    nest_.rng_seed = 7
    module.install()
    return nest_


def _drive(nest, ours, theirs, w_ex: float, w_in: float, receptors=(0, 0), signed: bool = True,
           current=(0.0, 420.0, -80.0, 650.0)):
    """Connect the same stimuli to ``ours`` and ``theirs`` (NEST's built-in, signed weights).

    ``receptors`` are our receptors for excitatory and inhibitory spikes; ``signed`` says whether our
    inhibitory receptor takes NEST's negative weight (a sign-routed port) or its magnitude (a plain one).
    """
    steps = nest.Create("step_current_generator", params={
        "amplitude_times": [1.0, 60.0, 150.0, 210.0], "amplitude_values": list(current)})
    nest.Connect(steps, ours)
    nest.Connect(steps, theirs)
    rng = np.random.default_rng(3)
    for w, rport, n in ((w_ex, receptors[0], 30), (w_in, receptors[1], 20)):
        times = np.unique(np.round(rng.uniform(2.0, T_END - 5.0, n), 1))
        ours_w = w if (w > 0 or signed) else -w
        gen = nest.Create("spike_generator", params={"spike_times": list(times)})
        nest.Connect(gen, theirs, syn_spec={"weight": w, "delay": 1.0})
        nest.Connect(gen, ours, syn_spec={"weight": ours_w, "delay": 1.0, "receptor_type": rport})
        poisson = nest.Create("poisson_generator", params={"rate": 600.0 if w > 0 else 400.0})
        parrot = nest.Create("parrot_neuron")
        nest.Connect(poisson, parrot)
        nest.Connect(parrot, theirs, syn_spec={"weight": 0.3 * w, "delay": 1.5})
        nest.Connect(parrot, ours, syn_spec={"weight": 0.3 * ours_w, "delay": 1.5, "receptor_type": rport})


def _record(nest, ours, theirs, ours_var: str = "V_m", theirs_var: str = "V_m"):
    mms, srs = [], []
    for node, var in ((ours, ours_var), (theirs, theirs_var)):
        mm = nest.Create("multimeter", params={"record_from": [var], "interval": 0.1})
        sr = nest.Create("spike_recorder")
        nest.Connect(mm, node)
        nest.Connect(node, sr)
        mms.append((mm, var))
        srs.append(sr)
    nest.Simulate(T_END)
    (a, va), (b, vb) = mms
    return (np.asarray(a.events[va]), np.asarray(b.events[vb]), np.asarray(srs[0].events["times"]),
            np.asarray(srs[1].events["times"]), np.asarray(a.events["times"]))


def _compare(ours_v, ref_v, ours_s, ref_s, atol: float, min_spikes: int = 5) -> float:
    assert len(ref_s) >= min_spikes, "the drive should make the reference fire"
    np.testing.assert_array_equal(ours_s, ref_s)
    err = float(np.max(np.abs(ours_v - ref_v)))
    assert err <= atol, f"max |dV_m| = {err:.3g} mV"
    return err


def test_legacy_end_blocks_match_iaf_psc_exp(nest, module):
    """NESTML 4 syntax (end, shape, function, curr_sum, counter in internals, relative V): exact."""
    ours = nest.Create(module.models["legacy_end_lif"])
    ref = nest.Create("iaf_psc_exp")
    _drive(nest, ours, ref, 350.0, -250.0)
    v, rv, s, rs, _ = _record(nest, ours, ref)
    err = _compare(v, rv, s, rs, 1e-9)
    print(f"legacy_end_lif vs iaf_psc_exp: {len(s)} spikes, max |dV_m| {err:.2e} mV")


def test_convolutions_advance_without_integrate_odes(nest, module):
    """While refractory the legacy neuron calls no integrate_odes: its synaptic currents still decay
    (NESTML's rule), so the spike right after refractoriness is where NEST's is. Strong input makes
    spikes follow refractory periods closely."""
    ours = nest.Create(module.models["legacy_end_lif"], params={"I_e": 500.0})
    ref = nest.Create("iaf_psc_exp", params={"I_e": 500.0})
    _drive(nest, ours, ref, 900.0, -300.0)
    v, rv, s, rs, _ = _record(nest, ours, ref)
    assert len(s) >= 20
    _compare(v, rv, s, rs, 1e-9)


def test_two_part_ode_kernels_match_iaf_cond_beta(nest, module):
    """`kernel g' = g$ - g/tau_r, g$' = ...` with initial values read from internals: within NEST's
    own solver error (its RKF45 runs at an absolute tolerance of 1e-3)."""
    params = {"tau_rise_ex": 0.2, "tau_decay_ex": 2.0, "tau_rise_in": 0.5, "tau_decay_in": 5.0}
    ours = nest.Create(module.models["beta_ode_kernel_neuron"])
    ref = nest.Create("iaf_cond_beta", params=params)
    _drive(nest, ours, ref, 8.0, -6.0, receptors=(1, 2), signed=False)
    v, rv, s, rs, _ = _record(nest, ours, ref)
    err = _compare(v, rv, s, rs, 1e-4)
    print(f"beta_ode_kernel vs iaf_cond_beta: {len(s)} spikes, max |dV_m| {err:.2e} mV")


def test_second_order_ode_kernels_match_iaf_cond_alpha(nest, module):
    """`kernel g'' = ...` with its initial values g, g' in the state block (they were not lowered
    before: 'kernel can only be used inside convolve()')."""
    ours = nest.Create(module.models["alpha_ode_kernel_neuron"])
    ref = nest.Create("iaf_cond_alpha")
    _drive(nest, ours, ref, 8.0, -6.0)
    v, rv, s, rs, _ = _record(nest, ours, ref)
    err = _compare(v, rv, s, rs, 1e-4)
    print(f"alpha_ode_kernel vs iaf_cond_alpha: {len(s)} spikes, max |dV_m| {err:.2e} mV")


def test_untyped_delta_kernel_matches_iaf_psc_delta(nest, module):
    """`(mV / pA / ms) * convolve(delta kernel, pA port)` and `spikes * mV / pA` in update: exact,
    including input held during refractoriness."""
    ours = nest.Create(module.models["delta_typed_port"])
    ref = nest.Create("iaf_psc_delta", params={"refractory_input": True})
    _drive(nest, ours, ref, 2.5, -1.5)
    v, rv, s, rs, _ = _record(nest, ours, ref)
    err = _compare(v, rv, s, rs, 1e-9)
    print(f"delta_typed_port vs iaf_psc_delta: {len(s)} spikes, max |dV_m| {err:.2e} mV")


def test_port_in_ode_matches_iaf_psc_delta(nest, module):
    """`V_m' = ... + spikes * mV`: the port read in an equation (it failed to lower before)."""
    ours = nest.Create(module.models["delta_port_in_ode_neuron"])
    ref = nest.Create("iaf_psc_delta")
    _drive(nest, ours, ref, 2.5, -1.5)
    v, rv, s, rs, _ = _record(nest, ours, ref)
    err = _compare(v, rv, s, rs, 1e-9)
    print(f"delta_port_in_ode vs iaf_psc_delta: {len(s)} spikes, max |dV_m| {err:.2e} mV")


def test_handler_sets_derivative_matches_iaf_psc_alpha(nest, module):
    """`I' += psc * get_weight(port, t)` (and sift(port, t), port.weight) on plain ports 1 and 2."""
    ours = nest.Create(module.models["alpha_handlers_neuron"])
    ref = nest.Create("iaf_psc_alpha")
    _drive(nest, ours, ref, 300.0, -200.0, receptors=(1, 2), signed=False)
    v, rv, s, rs, _ = _record(nest, ours, ref)
    err = _compare(v, rv, s, rs, 1e-9)
    print(f"alpha_handlers vs iaf_psc_alpha: {len(s)} spikes, max |dV_m| {err:.2e} mV")


def test_reset_in_on_condition_acts_after_the_step(nest, module):
    """A numerically solved neuron resets in onCondition: V_m is exactly V_reset after each spike
    (a reset inside a solver sub-step let V_m drift for the rest of the step), and it follows NEST's
    iaf_cond_exp within that model's solver error."""
    ours = nest.Create(module.models["cond_exp_timer_neuron"])
    ref = nest.Create("iaf_cond_exp")
    _drive(nest, ours, ref, 8.0, -6.0)
    v, rv, s, rs, times = _record(nest, ours, ref)
    err = _compare(v, rv, s, rs, 1e-4)
    at_spike = v[np.searchsorted(times, s)]  # recorded at the end of the spike's step
    np.testing.assert_array_equal(at_spike, -60.0)
    print(f"cond_exp_timer vs iaf_cond_exp: {len(s)} spikes, max |dV_m| {err:.2e} mV")


def test_condition_that_stays_true_fires_once_per_step(nest, module):
    """`V_prev < V_th and V_m >= V_th` holds until the next step: one spike per crossing step."""
    ours = nest.Create(module.models["level_condition_neuron"], params={"I_e": 2400.0})
    mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
    sr = nest.Create("spike_recorder")
    nest.Connect(mm, ours)
    nest.Connect(ours, sr)
    nest.Simulate(T_END)
    spikes = np.asarray(sr.events["times"])
    v, times = np.asarray(mm.events["V_m"]), np.asarray(mm.events["times"])
    crossings = times[1:][(v[:-1] < -45.0) & (v[1:] >= -45.0)]
    assert len(spikes) >= 5
    assert len(np.unique(spikes)) == len(spikes)
    np.testing.assert_allclose(spikes, crossings, atol=1e-9)


def _stdp_run(nest, neuron: str, synapse: str, neuron_params: dict, syn_params: dict):
    rng = np.random.default_rng(11)
    pre = np.unique(np.round(rng.uniform(1.0, 1950.0, 90), 1))
    drive = np.unique(np.round(rng.uniform(1.0, 1950.0, 90), 1))
    pre_gen = nest.Create("spike_generator", params={"spike_times": list(pre)})
    post_gen = nest.Create("spike_generator", params={"spike_times": list(drive)})
    parrot = nest.Create("parrot_neuron")
    post = nest.Create(neuron, params=neuron_params)
    wr = nest.Create("weight_recorder")
    nest.CopyModel(synapse, "stdp_under_test", {"weight_recorder": wr})
    nest.Connect(pre_gen, parrot)
    nest.Connect(post_gen, post, syn_spec={"weight": 5000.0, "delay": 0.1})
    nest.Connect(parrot, post, syn_spec={"synapse_model": "stdp_under_test", "delay": 1.0, **syn_params})
    nest.Simulate(2000.0)
    return np.asarray(wr.events["times"]), np.asarray(wr.events["weights"])


@pytest.mark.parametrize("cogen", [False, True], ids=["plain", "cogen"])
def test_emit_spike_weight_only_matches_stdp_synapse(nest, module, cogen):
    """NESTML 9's emit_spike(w) (the connection's delay) and decorated parameters: the weights after
    every presynaptic spike equal NEST's additive stdp_synapse."""
    common = {"weight": 1.0}
    ref_t, ref_w = _stdp_run(nest, "iaf_psc_exp", "stdp_synapse", {"tau_minus": 25.0},
                             {**common, "Wmax": 2.5, "lambda": 0.01, "alpha": 1.05, "tau_plus": 15.0,
                              "mu_plus": 0.0, "mu_minus": 0.0})
    nest.ResetKernel()
    module.install()
    ours = {**common, "W_max": 2.5, "eta": 0.01, "alpha": 1.05, "tau_pre": 15.0}
    if cogen:
        info = module.interfaces["stdp_emit_weight_synapse__with_legacy_end_lif"]
        neuron, synapse = info.cogeneration["neuron_model"], info.registered
        tau_post = info.cogeneration["renamed"].get("tau_post", "tau_post")
        t, w = _stdp_run(nest, neuron, synapse, {tau_post: 25.0}, ours)
    else:
        t, w = _stdp_run(nest, module.models["legacy_end_lif"], module.models["stdp_emit_weight_synapse"], {},
                         {**ours, "tau_post": 25.0})
    assert len(ref_w) >= 50 and len(np.unique(np.round(ref_w, 9))) > 10, "the weights should change"
    np.testing.assert_array_equal(t, ref_t)
    err = float(np.max(np.abs(w - ref_w) / np.abs(ref_w)))
    assert err < 1e-12
    print(f"stdp_emit_weight ({'cogen' if cogen else 'plain'}) vs stdp_synapse: {len(w)} weights, "
          f"max relative error {err:.1e}")


def test_print_interpolates_variables(tmp_path, capfd):
    """println("... {V_m} ...") prints the variable's value and unit (NESTML's format)."""
    from nmlc.build import build

    src = tmp_path / "printer.nestml"
    src.write_text(_PRINTER)
    mod = build([src])
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    mod.install()
    nest.Create(mod.models["printer_neuron"])
    capfd.readouterr()
    nest.Simulate(0.3)
    out = capfd.readouterr().out.splitlines()
    assert out == ["x = 1 mV, n = 1", "x = 2 mV, n = 2", "x = 3 mV, n = 3"]


_PRINTER = """
model printer_neuron:
    state:
        x mV = 0 mV
        n integer = 0
    update:
        x += 1 mV
        n += 1
        println("x = {x}, n = {n}")
"""
