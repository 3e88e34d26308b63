"""Every library neuron and generator is complete: documented model, spec with enough cases, an
independent reference, and every model the neuron-library issue names is present.

A model's docstring must be valid reST (it is rendered on the docs site), describe it, give its equations in words, its parameters and references
with a DOI; its ``spec.yaml`` must load without problems, hold at least three cases and compare the
model at least once with a reference that does not go through nmlc (a NEST built-in, a Python
script, an independently generated stored trace or an analytic expression).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from nmlc.diagnostics import Diagnostics
from nmlc.docs.docstring import parse_docstring, rst_problems
from nmlc.syntax.parser import parse_file
from nmlc_validation.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = sorted(p for kind in ("neurons", "generators") for p in (ROOT / "library" / kind).iterdir() if p.is_dir())

# the models the neuron-library issue asks for (issue 6), by folder name
REQUIRED = {
    "neurons": ["iaf_psc_delta", "iaf_psc_exp", "iaf_psc_alpha", "iaf_psc_exp_multisynapse", "iaf_cond_exp",
                "iaf_cond_alpha", "iaf_cond_beta", "hodgkin_huxley", "hh_psc_alpha", "hh_cond_exp_traub",
                "aeif_cond_exp", "aeif_cond_alpha", "aeif_psc_exp", "izhikevich", "mat2_psc_exp",
                "iaf_psc_exp_adapt_thresh", "iaf_psc_exp_adapt_curr", "iaf_psc_exp_active_dendrite",
                "iaf_psc_exp_nonlineardendrite", "iaf_psc_exp_ou_noise", "rate_neuron_sigmoid",
                "iaf_psc_exp_dend"],
    "generators": ["inhomogeneous_poisson"],
}


def test_every_required_model_is_in_the_library() -> None:
    present = {(p.parent.name, p.name) for p in FOLDERS}
    missing = [f"{kind}/{name}" for kind, names in REQUIRED.items() for name in names if (kind, name) not in present]
    assert not missing, f"missing library models: {missing}"


def _docstring(path: Path) -> str:
    diags = Diagnostics()
    unit = parse_file(path, diags)
    assert unit is not None and len(unit.models) == 1, f"{path}: does not parse to one model"
    return unit.models[0].docstring or ""


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_model_is_documented(folder: Path) -> None:
    model = folder / f"{folder.name}.nestml"
    assert model.is_file(), f"{folder}: no {model.name}"
    text = _docstring(model)
    assert not rst_problems(text), f"{model.name}: the docstring is not valid reST: {rst_problems(text)}"
    doc = parse_docstring(text)
    headings = {s.heading for s in doc.sections}
    assert doc.summary, f"{model.name}: the docstring's title line says what the model is"
    assert "Parameters" in headings, f"{model.name}: no Parameters section (sections: {sorted(headings)})"
    assert "References" in headings, f"{model.name}: no References section"
    assert len(doc.description.split()) >= 40, f"{model.name}: the description is too short to give the equations"
    assert any(r.doi for r in doc.references), f"{model.name}: no reference with a DOI"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_has_three_cases_and_an_independent_check(folder: Path) -> None:
    spec = load_spec(folder / "spec.yaml", ROOT)
    assert not spec.issues, "\n".join(map(str, spec.issues))
    assert len(spec.cases) >= 3, f"{folder.name}: {len(spec.cases)} cases"
    independent = []
    for case in spec.cases.values():
        for exp in case.expectations:
            ref = spec.references.get(exp.reference or "")
            if exp.kind == "expression" or (ref is not None and ref.kind in ("nest_builtin", "python")) or (
                    ref is not None and ref.kind == "stored" and ref.data.get("generated_by") != "model"):
                independent.append((case.name, exp.kind))
    assert independent, f"{folder.name}: no expectation against a reference outside nmlc"
