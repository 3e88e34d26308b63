"""Synapse spec keys: co-generated pairs (`model.cogenerate`), neuromodulator spikes (port `mod`) and the
`weights` expectation; wrong uses are spec errors with file, line and YAML path."""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import nmlc_validation as nv
import numpy as np
import pytest
from nmlc_validation.expectations import weight_sequence, weight_statistic
from nmlc_validation.harness import Harness
from nmlc_validation.simulate import Recording, run_case_in_nest
from nmlc_validation.spec import load_spec

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "library"
NEURON = LIB / "neurons" / "iaf_psc_exp" / "iaf_psc_exp.nestml"
STDP = LIB / "synapses" / "stdp" / "stdp_synapse.nestml"
STATIC = LIB / "synapses" / "static" / "static_synapse.nestml"


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _messages(spec) -> list[str]:
    return [str(i) for i in spec.issues]


_CASE = """
cases:
  c:
    resolution: 0.1
    duration: 100.0
    seed: 1
    threads: 1
    stimuli:
{stimuli}
    expect:
      - spike_count: {{min: 0}}
"""


def _builtin_synapse_spec(folder: Path, stimuli: str, model: str = "stdp_dopamine_synapse", extra: str = "") -> Path:
    return _write(folder, f"""
model:
  nest_builtin: {model}
  neuron:
    nest_builtin: iaf_psc_exp
    spike_ports: {{exc: {{receptor: 0, sign: excitatory}}}}
  target_port: exc
{extra}""" + _CASE.format(stimuli=textwrap.indent(stimuli, " " * 6)))


# ------------------------------------------------------------------------------------------ static checks
def test_cogenerate_needs_nestml_pair(tmp_path: Path) -> None:
    builtin = _builtin_synapse_spec(tmp_path / "a", "- spike_train: {port: pre, times: [10.0]}")
    builtin.write_text(builtin.read_text().replace("  target_port: exc\n", "  target_port: exc\n  cogenerate: true\n"))
    msgs = _messages(load_spec(builtin, tmp_path))
    assert any(":8: model.cogenerate: key 'cogenerate' is not allowed here" in m for m in msgs), msgs

    half = _write(tmp_path / "b", f"""
model:
  nestml: {STDP}
  neuron:
    nest_builtin: iaf_psc_exp
    spike_ports: {{exc: {{receptor: 0, sign: excitatory}}}}
  target_port: exc
  cogenerate: true
""" + _CASE.format(stimuli="      - spike_train: {port: pre, times: [10.0]}"))
    msgs = _messages(load_spec(half, tmp_path))
    assert any(m.startswith("b/spec.yaml:8: model.cogenerate: cogenerate needs a nestml synapse paired with a "
                            "nestml neuron") for m in msgs), msgs

    neuron = _write(tmp_path / "c", f"model: {{nestml: {NEURON}, cogenerate: true}}\n"
                    + _CASE.format(stimuli="      - dc: {port: I_stim, amplitude: 1.0}"))
    msgs = _messages(load_spec(neuron, tmp_path))
    assert any("c/spec.yaml:1: model: 'neuron' is required when 'cogenerate' is given" in m for m in msgs), msgs


@pytest.mark.parametrize("stimulus, expected", [
    ("- spike_train: {port: mod, times: [10.0], weight: 2.0}",
     "cases.c.stimuli[0].spike_train.weight: neuromodulator spikes have no weight"),
    ("- poisson: {port: mod, rate: 10.0, seed: 1, delay: 1.0}",
     "cases.c.stimuli[0].poisson.delay: neuromodulator spikes have no delay"),
    ("- dc: {port: mod, amplitude: 5.0}",
     "cases.c.stimuli[0].dc.port: port 'mod' (neuromodulator spikes) takes spike_train or poisson input"),
    ("- spike_train: {port: mod, times: [10.05]}",
     "cases.c.stimuli[0].spike_train.times: spike time 10.05 ms is not on the simulation grid"),
])
def test_wrong_neuromodulator_stimuli(tmp_path: Path, stimulus: str, expected: str) -> None:
    spec = load_spec(_builtin_synapse_spec(tmp_path, stimulus), tmp_path)
    assert any(expected in m for m in _messages(spec)), _messages(spec)
    assert all(i.case_name() == "c" for i in spec.issues)


def test_mod_is_an_ordinary_port_in_neuron_specs(tmp_path: Path) -> None:
    path = _write(tmp_path, """
model:
  nest_builtin: iaf_psc_exp
  spike_ports: {mod: {receptor: 0, sign: excitatory}}
""" + _CASE.format(stimuli="      - spike_train: {port: mod, times: [10.0]}"))
    msgs = _messages(load_spec(path, tmp_path))
    assert any("cases.c.stimuli[0].spike_train: 'weight' is a required property" in m for m in msgs), msgs


def test_weights_expectation_needs_a_synapse_spec(tmp_path: Path) -> None:
    path = _write(tmp_path, """
model:
  nest_builtin: iaf_psc_exp
  current_ports: {I: {receptor: 0}}
""" + _CASE.format(stimuli="      - dc: {port: I, amplitude: 1.0}").replace(
        "- spike_count: {min: 0}", "- weights: {statistic: range, max: 0.0}"))
    msgs = _messages(load_spec(path, tmp_path))
    assert any("cases.c.expect[0].weights: weights needs a synapse spec" in m for m in msgs), msgs


# ------------------------------------------------------------------------------------------ weight statistics
def test_weight_statistics_on_constructed_weights() -> None:
    rec = Recording(np.empty(0), {}, np.empty(0), weight_t=np.array([10.0, 20.0, 30.0, 40.0]),
                    weight=np.array([5.0, 3.0, 6.0, 6.5]), initial_weight=4.0)
    t, w = weight_sequence(rec, (0.0, 100.0))
    assert list(w) == [4.0, 5.0, 3.0, 6.0, 6.5] and t[0] == 0.0
    expected = {"min": 3.0, "max": 6.5, "final": 6.5, "change": 2.5, "range": 3.5, "max_increase": 3.0,
                "max_decrease": 2.0}
    assert {s: weight_statistic(w, s) for s in expected} == expected
    # a window starts from the last weight before it
    t, w = weight_sequence(rec, (25.0, 35.0))
    assert list(w) == [3.0, 6.0] and t[0] == 20.0
    _, flat = weight_sequence(Recording(np.empty(0), {}, np.empty(0), weight_t=np.empty(0), weight=np.empty(0),
                                        initial_weight=7.0), (0.0, 10.0))
    assert weight_statistic(flat, "max_increase") == 0.0 == weight_statistic(flat, "change")


# ------------------------------------------------------------------------------------------ neuromodulator spikes
def test_neuromodulator_spikes_reach_model_and_reference(tmp_path: Path) -> None:
    """NEST's stdp_dopamine_synapse as the model, fed through port `mod`: it matches the built-in reference
    (its own volume transmitter, same spikes) and the Python rule that takes the dopamine at t + 2 steps;
    STDP-window networks get no dopamine; without dopamine (b = 0) the weight never moves."""
    results = {r.case: r for r in nv.run([DATA / "builtin_dopamine"], results_dir=tmp_path / "res", rootdir=REPO)}
    for r in results.values():
        assert r.passed, r.report()
    dopa = {e.label: e for e in results["dopamine"].expectations}
    assert dopa["expect[1].weight_trajectory"].error < 1e-9 and dopa["expect[2].weights"].data["value"] > 1.0
    assert dopa["expect[4].stdp_window 'the extra pairing networks get no dopamine (their own volume "
                "transmitters)'"].data["weight_change"] == [0.0, 0.0]
    data = json.loads(Path(results["dopamine"].json_path).read_text())
    assert len(data["recordings"]["nest"]["main"]["weight"]) == 60


def test_neuromodulator_timing_is_checked(tmp_path: Path) -> None:
    """The Python rule with the dopamine one step early no longer matches: the test above measures timing."""
    folder = tmp_path / "shifted"
    shutil.copytree(DATA / "builtin_dopamine", folder)
    (folder / "shifted.py").write_text(
        '"""The dopamine rule with every neuromodulator spike one step early (a deliberately wrong timing)."""\n'
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('rd', {str(LIB / 'synapses/stdp_dopamine/reference_dopamine.py')!r})\n"
        "rd = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(rd)\n\n\n"
        "def simulate(inp):\n    return rd.simulate({**inp, 'mod_spikes': inp['mod_spikes'] - inp['resolution']})\n")
    text = (folder / "spec.yaml").read_text()
    text = text.replace("python: ../../../../library/synapses/stdp_dopamine/reference_dopamine.py", "python: shifted.py")
    (folder / "spec.yaml").write_text(text)
    results = {r.case: r for r in nv.run([folder], results_dir=tmp_path / "res", rootdir=tmp_path)}
    wrong = next(e for e in results["dopamine"].expectations if e.reference == "rule")
    assert not wrong.passed and wrong.error > 1e-6


def test_mod_spikes_need_a_neuromodulated_synapse(tmp_path: Path) -> None:
    path = _builtin_synapse_spec(tmp_path, "- spike_train: {port: mod, times: [10.0]}", model="stdp_synapse")
    harness = Harness(results_dir=tmp_path / "res", rootdir=tmp_path, lock_path=tmp_path / "lock")
    (result,) = harness.run_spec(harness.load(path))
    assert result.status == "error"
    assert ("cases.c.stimuli[0].spike_train.port: port 'mod' sends neuromodulator spikes through a "
            "volume transmitter, but synapse 'stdp_synapse' has no neuromodulatory input") in result.message


def test_reference_without_volume_transmitter_is_reported(tmp_path: Path) -> None:
    path = _builtin_synapse_spec(tmp_path, "- spike_train: {port: mod, times: [10.0]}",
                                 extra="references:\n  plain: {nest_builtin: stdp_synapse, neuron: iaf_psc_exp}\n")
    path.write_text(path.read_text().replace("- spike_count: {min: 0}",
                                             "- weight_trajectory: {reference: plain, rtol: 0.0, atol: 0.0}"))
    harness = Harness(results_dir=tmp_path / "res", rootdir=tmp_path, lock_path=tmp_path / "lock")
    (result,) = harness.run_spec(harness.load(path))
    assert result.status == "error" and "Traceback" not in result.message
    assert ("plain: synapse 'stdp_synapse' takes no neuromodulator spikes (it has no volume_transmitter), but the "
            "case sends spikes to port 'mod'") in result.message


# ------------------------------------------------------------------------------------------ co-generation
def _stdp_spec(folder: Path, cogenerate: bool, synapse: Path = STDP) -> Path:
    library_spec = (LIB / "synapses" / "stdp" / "spec.yaml").read_text()
    stimuli = library_spec[library_spec.index("    stimuli:\n"):library_spec.index("    record:")]
    expect = ("      - weight_trajectory: {reference: nest, rtol: 1.0e-9, atol: 1.0e-9}\n"
                        "      - weights: {statistic: range, min: 1.0}\n")
    return _write(folder, f"""
model:
  nestml: {synapse}
  neuron: {{nestml: {NEURON}}}
  target_port: exc_spikes
  cogenerate: {str(cogenerate).lower()}
parameters: {{weight: 40.0, lambda: 0.01, alpha: 1.05, Wmax: 100.0, tau_tr_pre: 15.0, tau_tr_post: 25.0}}
references:
  nest:
    nest_builtin: stdp_synapse
    parameters: {{tau_plus: tau_tr_pre, mu_plus: 0.0, mu_minus: 0.0}}
    neuron: iaf_psc_exp
    neuron_parameters: {{tau_minus: 25.0}}
cases:
  pairs:
    resolution: 0.1
    duration: 3000.0
    seed: 1
    threads: 1
{stimuli}    expect:
{expect}""")


def test_cogenerated_pair_is_used_and_matches_the_plain_pair(tmp_path: Path) -> None:
    """One build serves a plain and a co-generated stdp spec (a wrong pair in the same batch is left out of
    it); the co-generated subject runs `<synapse>__with_<neuron>`, the spec's tau_tr_post reaches the
    neuron, parameters look like the plain pair's, and the weights equal the plain pair's and NEST's."""
    plain_path = _stdp_spec(tmp_path / "plain", cogenerate=False)
    cogen_path = _stdp_spec(tmp_path / "cogen", cogenerate=True)
    wrong_path = _stdp_spec(tmp_path / "wrong", cogenerate=True, synapse=STATIC)
    harness = Harness(results_dir=tmp_path / "res", rootdir=tmp_path, lock_path=tmp_path / "lock")
    specs = [harness.load(p) for p in (plain_path, cogen_path, wrong_path)]
    plain, cogen, wrong = specs
    harness.prebuild(specs)

    subject = harness.subject(cogen)
    assert subject.synapse_model.startswith("stdp_synapse__with_iaf_psc_exp")
    assert subject.neuron.nest_model.startswith("iaf_psc_exp__with_stdp_synapse")
    assert subject.cogeneration is not None and "tau_tr_post" in subject.cogeneration.neuron_names
    plain_subject = harness.subject(plain)
    assert plain_subject.cogeneration is None and plain_subject.synapse_model.startswith("stdp_synapse")
    assert "__with_" not in plain_subject.synapse_model
    # the same names as the plain pair: synapse parameters incl. the moved ones, neuron without extras
    assert set(subject.synapse_parameters) == set(plain_subject.synapse_parameters)
    assert set(subject.neuron.parameters) == set(plain_subject.neuron.parameters)
    assert set(subject.neuron.recordables) == set(plain_subject.neuron.recordables)

    run = run_case_in_nest(cogen, cogen.cases["pairs"], subject, [])
    assert run.synapse_parameters["tau_tr_post"] == 25.0 and run.synapse_parameters["tau_tr_pre"] == 15.0
    import nest

    nodes = nest.GetNodes()
    neurons = nodes[np.asarray(nodes.get("model")) == subject.neuron.nest_model]
    assert len(neurons) == 1  # the moved parameter was set on the co-generated neuron, under its name there
    assert neurons.get(subject.cogeneration.neuron_names["tau_tr_post"]) == 25.0
    assert not set(run.model_parameters) & subject.cogeneration.hidden

    w = []
    for spec in (plain, cogen):
        (result,) = harness.run_spec(spec)
        assert result.passed, result.report()
        w.append(np.asarray(json.loads(Path(result.json_path).read_text())["recordings"]["model"]["main"]["weight"]))
    assert len(w[1]) >= 100 and np.ptp(w[1]) > 1.0
    np.testing.assert_allclose(w[1], w[0], rtol=1e-12, atol=0.0)

    (bad,) = harness.run_spec(wrong)
    assert bad.status == "error" and "Traceback" not in bad.message
    assert "wrong/spec.yaml:6: model.cogenerate:" in bad.message
    assert "no postsynaptic spike port" in bad.message and "E0603" in bad.message


def test_pairing_diagnostics_name_their_pair() -> None:
    """Which pairs of a build a compiler error is about: those are left out of the shared build."""
    from nmlc_validation.adapter import _pairs_in_error

    pairs = {("iaf_psc_exp", "static_synapse"), ("iaf_psc_exp", "stdp_synapse")}
    e0603 = ("static_synapse.nestml:15:1: error[E0603]: neuron `iaf_psc_exp` and synapse `static_synapse` cannot be "
             "co-generated: synapse `static_synapse` has no postsynaptic spike port")
    assert _pairs_in_error(e0603, pairs) == {("iaf_psc_exp", "static_synapse")}
    e0604 = "pair iaf_psc_exp:stdp_synapse:0:0: error[E0604]: the pair is named twice"
    assert _pairs_in_error(e0604, pairs) == {("iaf_psc_exp", "stdp_synapse")}
    other = "x.nestml:3:5: error[E0201]: unknown variable `iaf_psc_exp` in `stdp_synapse`"
    assert _pairs_in_error(other, pairs) == set()
