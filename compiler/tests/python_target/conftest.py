"""Fixtures for the Python target tests: models built once per session into a temporary cache."""
from __future__ import annotations

from pathlib import Path

import nmlc
import pytest

ROOT = Path(__file__).resolve().parents[3]
LIB = ROOT / "library"


def lib(kind: str, name: str) -> Path:
    folder = {"static_synapse": "static", "stdp_synapse": "stdp", "tsodyks_synapse": "tsodyks"}.get(name, name)
    return LIB / kind / folder / f"{name}.nestml"


@pytest.fixture(scope="session")
def py_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("nmlc_py_cache")


BUILT_FILES = [lib("neurons", "iaf_psc_exp"), lib("neurons", "iaf_psc_alpha"), lib("neurons", "iaf_psc_delta"),
               lib("neurons", "aeif_cond_exp"), lib("synapses", "stdp_synapse"), lib("synapses", "tsodyks_synapse"),
               lib("synapses", "static_synapse")]


@pytest.fixture(scope="session")
def built(py_cache):
    """The library models the tests use, built with the Python target."""
    return nmlc.build(BUILT_FILES, py_cache, target="python")


def write_model(tmp_path: Path, text: str, name: str = "m.nestml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
