"""`nmlc new`: the skeleton model checks, its spec loads without problems, and bad requests are clear errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nmlc.cli import main
from nmlc.docs.modelinfo import read_models
from nmlc.scaffold import ScaffoldError, new_model
from nmlc_validation import load_spec

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "library"
    (lib / "neurons" / "iaf_psc_exp").mkdir(parents=True)
    shutil.copy(ROOT / "library/neurons/iaf_psc_exp/iaf_psc_exp.nestml", lib / "neurons/iaf_psc_exp")
    return lib


@pytest.mark.parametrize("kind", ["neuron", "synapse"])
def test_skeleton_checks_and_spec_is_valid(library: Path, kind: str) -> None:
    files = new_model(kind, f"my_{kind}", library)
    assert [f.name for f in files] == [f"my_{kind}.nestml", "spec.yaml"]
    assert files[0].parent == library / f"{kind}s" / f"my_{kind}"
    (info,) = read_models(files[0])
    assert info.kind == kind and info.name == f"my_{kind}"
    assert [s.heading for s in info.docstring.sections] == ["Description", "References"]
    # one reference, with the place for its DOI (a placeholder is no DOI, and is not published as one)
    assert len(info.docstring.references) == 1 and "DOI: https://doi.org/" in info.docstring.references[0].text
    assert info.docstring.references[0].doi is None
    spec = load_spec(files[1], library.parent)
    assert not spec.issues, [str(i) for i in spec.issues]
    assert len(spec.case_names) == 1


@pytest.mark.parametrize("kind, name, message", [
    ("neuron", "2fast", "not a valid model name"),
    ("neuron", "class", "not a valid model name"),
    ("neuron", "__x", "reserved"),
    ("dendrite", "x", "unknown kind"),
])
def test_bad_requests(library: Path, kind: str, name: str, message: str) -> None:
    with pytest.raises(ScaffoldError, match=message):
        new_model(kind, name, library)


def test_existing_model_is_not_overwritten(library: Path) -> None:
    with pytest.raises(ScaffoldError, match="already exists"):
        new_model("neuron", "iaf_psc_exp", library)
    new_model("neuron", "mine", library)
    with pytest.raises(ScaffoldError, match="already exists"):
        new_model("synapse", "mine", library)


def test_missing_library(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="no model library"):
        new_model("neuron", "x", tmp_path / "nowhere")


def test_cli(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "neuron", "cli_neuron", "--library", str(library)]) == 0
    assert (library / "neurons/cli_neuron/spec.yaml").exists()
    assert main(["new", "neuron", "cli_neuron", "--library", str(library)]) == 1
    err = capsys.readouterr().err
    assert "nmlc new: " in err and "already exists" in err and "Traceback" not in err
