"""The module the synapse tests share: every library synapse, plain and co-generated, in one build.

The module holds the plain synapses and, co-generated, one ``iaf_psc_exp`` serving every plastic
library synapse that reads postsynaptic spikes (several synapse types per neuron) plus the
third-factor synapse paired with a test neuron that has a dendritic current, and the sequence-learning
rule (stdsp) paired with the sequence-learning neuron.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LIB = ROOT / "library" / "synapses"
DATA = Path(__file__).parent / "data"
NEURON = ROOT / "library" / "neurons" / "iaf_psc_exp" / "iaf_psc_exp.nestml"
#: the neuron of the sequence-learning network (Bouhadjar et al. 2022), for the stdsp rule
SEQ_NEURON = ROOT / "library" / "neurons" / "iaf_psc_exp_nonlineardendrite" / "iaf_psc_exp_nonlineardendrite.nestml"

#: library synapses co-generated with iaf_psc_exp (those with a postsynaptic port)
PAIRED = ["stdp_synapse", "stdp_guetig_synapse", "stdp_nn_symm_synapse", "stdp_nn_pre_centered_synapse",
          "stdp_nn_restr_synapse", "stdp_triplet_synapse", "stdp_dopamine_synapse", "stdp_clamped_synapse",
          "stdsp_synapse"]


def library_files() -> list[Path]:
    return sorted(LIB.glob("*/*.nestml")) + [NEURON, SEQ_NEURON, DATA / "iaf_psc_exp_dend.nestml"]


def library_pairs() -> list[tuple[str, str]]:
    return [("iaf_psc_exp", s) for s in PAIRED] + [("iaf_psc_exp_dend", "stdp_third_factor_synapse"),
                                                   ("iaf_psc_exp_nonlineardendrite", "stdsp_synapse")]
