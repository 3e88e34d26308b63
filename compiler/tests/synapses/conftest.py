"""Fixtures for the synapse tests: the shared library module (built once; later runs hit nmlc's cache)."""
from __future__ import annotations

import pytest
from synapse_library import library_files, library_pairs


@pytest.fixture(scope="session")
def lib():
    """The built module with every library synapse (see synapse_library)."""
    from nmlc.build import build

    return build(library_files(), pairs=library_pairs())


@pytest.fixture()
def nest_kernel(lib):
    """A fresh kernel with the module installed, quiet."""
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    lib.install()
    return nest
