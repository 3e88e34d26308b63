"""``nmlc new neuron|synapse NAME``: start a library model with a working skeleton and a one-case spec.

The skeleton is a complete, valid model (a leaky integrate-and-fire neuron, or a synapse with a
weight and a delay) with the docstring sections the catalogue reads (title line, Description,
References with a DOI), so a contributor edits a model that already builds and validates rather
than starting from an empty file. The spec's one case checks it against a reference that does not
go through nmlc (an analytic solution, or NEST's static_synapse), as library specs must.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

__all__ = ["KINDS", "ScaffoldError", "new_model"]

KINDS = {"neuron": "neurons", "synapse": "synapses"}

_NEURON = '''\
# {name} - one line saying what the model is
#
# Description
# +++++++++++
#
# Say what the model describes and how: its equations in words, its inputs and outputs, what
# happens at a spike, and how it differs from related library models. This skeleton is a leaky
# integrate-and-fire neuron with exponentially decaying synaptic currents: replace it with yours.
#
# References
# ++++++++++
#
# .. [1] Author A, Author B (Year). Title of the paper. Journal Volume:Pages.
#        DOI: https://doi.org/10.xxxx/replace-me
model {name}:

    parameters:
        C_m pF = 250 pF           # membrane capacitance
        tau_m ms = 10 ms          # membrane time constant
        tau_syn ms = 2 ms         # time constant of the synaptic current
        E_L mV = -70 mV           # resting potential
        V_reset mV = -70 mV       # reset potential
        V_th mV = -55 mV          # spike threshold
        t_ref ms = 2 ms           # duration of the refractory period
        I_e pA = 0 pA             # constant external input current

    state:
        V_m mV = E_L              # membrane potential
        refr_steps integer = 0    # steps left in the refractory period

    internals:
        RefractoryCounts integer = steps(t_ref)   # refractory period in simulation steps

    equations:
        kernel K_syn = exp(-t / tau_syn)
        recordable inline I_syn pA = convolve(K_syn, spikes) * pA
        V_m' = -(V_m - E_L) / tau_m + (I_syn + I_e + I_stim) / C_m

    input:
        spikes <- spike
        I_stim pA <- continuous

    output:
        spike

    update:
        if refr_steps == 0:
            integrate_odes()
        else:
            refr_steps -= 1
            integrate_odes(K_syn)   # the synaptic current decays during the refractory period

    onCondition(V_m >= V_th):
        refr_steps = RefractoryCounts
        V_m = V_reset
        emit_spike()
'''

_NEURON_SPEC = '''\
description: >
  {name}: say what the cases check and against which references (NEST built-ins, analytic
  solutions, a Python reference). Format: specs/README.md.
model: {{nestml: {name}.nestml}}
x-defaults: &defaults {{resolution: 0.1, seed: 1, threads: 1}}
cases:
  current_step:
    <<: *defaults
    duration: 200.0
    stimuli:
      - dc: {{port: I_stim, amplitude: 100.0, start: 20.0, stop: 150.0}}
    record: {{variables: [V_m], interval: 0.1}}
    expect:
      - expression:
          name: RC charging curve
          variable: V_m
          expr: "E_L + I*tau_m/C_m*(1 - exp(-maximum(t - t_on, 0)/tau_m))"
          constants: {{I: 100.0, t_on: 20.1}}   # the current reaches the neuron one step after its start
          window: [0.0, 150.0]
          rtol: 0.0
          atol: 1.0e-9
      - spike_count: {{equals: 0}}
'''

_SYNAPSE = '''\
# {name} - one line saying what the synapse does
#
# Description
# +++++++++++
#
# Say what the synapse models: its plasticity rule in words and equations, which spikes
# (pre, post, neuromodulator) change which variables, and the weight's bounds. This skeleton
# transmits every presynaptic spike with a fixed weight and delay: add traces and weight updates
# in the onReceive handlers.
#
# References
# ++++++++++
#
# .. [1] Author A, Author B (Year). Title of the paper. Journal Volume:Pages.
#        DOI: https://doi.org/10.xxxx/replace-me
model {name}:

    state:
        w real = 1                # synaptic weight

    parameters:
        d ms = 1 ms               # delay

    input:
        pre_spikes <- spike       # add `post_spikes <- spike` and an onReceive(post_spikes) handler
                                  # for a rule that reacts to postsynaptic spikes

    output:
        spike(weight real, delay ms)

    onReceive(pre_spikes):
        emit_spike(w, d)          # a presynaptic spike: update traces and the weight here, then transmit
'''

_SYNAPSE_SPEC = '''\
description: >
  {name}: say what the cases check and against which references. Format: specs/README.md.
model:
  nestml: {name}.nestml
  neuron: {{nestml: {neuron}}}
  target_port: {port}
parameters: {{weight: 50.0, delay: 1.0}}
references:
  nest:
    nest_builtin: static_synapse
    neuron: {builtin}
x-defaults: &defaults {{resolution: 0.1, seed: 1, threads: 1}}
cases:
  transmission:
    <<: *defaults
    duration: 300.0
    stimuli:
      - spike_train: {{port: pre, times: [20.0, 70.0, 120.0, 170.0]}}
    record: {{variables: [V_m], interval: 0.1}}
    expect:
      - weight_trajectory: {{reference: nest, rtol: 0.0, atol: 1.0e-12}}
      - trace: {{variable: V_m, reference: nest, rtol: 0.0, atol: 1.0e-9}}
'''


class ScaffoldError(ValueError):
    """Why a model cannot be scaffolded (bad kind or name, or the folder exists)."""


def new_model(kind: str, name: str, library: str | Path = "library") -> list[Path]:
    """Create ``library/<kind>s/<name>/`` with ``<name>.nestml`` and ``spec.yaml``; returns the files.

    A synapse's spec pairs it with the library's ``iaf_psc_exp`` neuron (compared against NEST's
    ``iaf_psc_exp`` with ``static_synapse``). Raises :class:`ScaffoldError` for an unknown kind, a name
    that is not an identifier, or a folder that already exists.
    """
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind '{kind}': choose one of {', '.join(KINDS)}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or "") or keyword.iskeyword(name):
        raise ScaffoldError(f"'{name}' is not a valid model name: use letters, digits and underscores, "
                            f"starting with a letter (for example my_{kind})")
    if name.startswith("__"):
        raise ScaffoldError(f"'{name}': names starting with '__' are reserved for nmlc")
    library = Path(library)
    if not library.is_dir():
        raise ScaffoldError(f"no model library at '{library}' (run from the repository root, or pass its path)")
    folder = library / KINDS[kind] / name
    if folder.exists():
        raise ScaffoldError(f"'{folder}' already exists: choose another name or edit that model")
    existing = sorted(p.parent.relative_to(library).as_posix() for p in library.glob(f"*/*/{name}.nestml"))
    if existing:
        raise ScaffoldError(f"a model named '{name}' already exists in {existing[0]}")
    if kind == "neuron":
        model, spec = _NEURON.format(name=name), _NEURON_SPEC.format(name=name)
    else:
        neuron = library / "neurons" / "iaf_psc_exp" / "iaf_psc_exp.nestml"
        if not neuron.exists():
            raise ScaffoldError(f"a synapse's spec pairs it with {neuron}, which is missing")
        model = _SYNAPSE.format(name=name)
        spec = _SYNAPSE_SPEC.format(name=name, neuron="../../neurons/iaf_psc_exp/iaf_psc_exp.nestml",
                                    port="exc_spikes", builtin="iaf_psc_exp")
    folder.mkdir(parents=True)
    files = [folder / f"{name}.nestml", folder / "spec.yaml"]
    files[0].write_text(model, encoding="utf-8")
    files[1].write_text(spec, encoding="utf-8")
    return files
