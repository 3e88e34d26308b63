"""The one way to run anything in nmlc: `nox -s <session>`.

Sessions run in the current Python environment (install it once with
`pip install -e ".[test]"`), so they share the pip-installed NEST and the build cache.
"""
from __future__ import annotations

import glob

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "none"

LIBRARY_MODELS = sorted(glob.glob("library/*/*/*.nestml"))


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Unit tests and every library spec, in parallel."""
    session.run("pytest", "-n", "2", "-q", *session.posargs)


@nox.session(python=False)
def build(session: nox.Session) -> None:
    """Compile every library model into one module (cached: a rebuild of unchanged sources compiles nothing)."""
    session.run("nmlc", "build", *LIBRARY_MODELS, *session.posargs)


@nox.session(python=False)
def validate(session: nox.Session) -> None:
    """Build the library and run every spec case, with a summary table."""
    session.run("pytest", "-n", "2", "-q", "library", *session.posargs)


@nox.session(python=False)
def references(session: nox.Session) -> None:
    """Regenerate the stored reference traces of the specs (default: the whole library), on purpose only.

    Each file is written with a header saying how it was made; review the diff before committing.
    Pass spec folders after `--` to regenerate only those, e.g. `nox -s references -- library/neurons/x`.
    """
    paths = session.posargs or ["library"]
    session.run("python", "-c", "import sys; from nmlc_validation.harness import regenerate_references; "
                "[print(p) for p in regenerate_references(sys.argv[1:])]", *paths)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff over the Python sources."""
    session.run("ruff", "check", "compiler", "validation", "noxfile.py", "conftest.py")


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Generated vs built-in models (Brunel, HH, STDP networks; memory) and build times, as ratios of one
    interleaved run, with the machine's description; prints the table and writes benchmarks/results/.
    Pass options after `--`, e.g. `nox -s bench -- --runs 3 --min-seconds 0 --instructions` (see benchmarks/run.py)."""
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """The HTML site from docs/ (warnings are errors), then every page opened in headless Chromium.

    Needs the docs extra (`pip install -e ".[docs]"`). Validation results of `nox -s validate` are reused
    when newer than the model and spec, other cases run first. Screenshots of the catalogue and of one
    model page go to docs/_build/screenshots/. Chromium is installed with apt-get if it is missing.
    """
    import time

    start = time.perf_counter()
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)
    session.log(f"docs built in {time.perf_counter() - start:.0f} s")
    session.run("pytest", "-q", "-p", "no:cacheprovider",
                "compiler/tests/docs/test_docs_site.py::test_site_in_headless_chromium",
                env={"NMLC_DOCS_SITE": "docs/_build/html", "NMLC_DOCS_SCREENSHOTS": "docs/_build/screenshots"})
