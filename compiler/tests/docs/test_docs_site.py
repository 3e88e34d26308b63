"""The catalogue end to end: build a site from a small library with Sphinx (warnings are errors), check
its pages and catalogue.json, run a page's PyNEST snippet, rebuild from the stored results, and open
the site in headless Chromium.

By default the site is built from a temporary copy of ``docs/`` with a three-model library (the
library's ``iaf_psc_exp`` without a spec, and a scaffolded neuron and synapse, each with one case), so
the test needs one small compile and two short simulations. ``nox -s docs`` runs the browser test on
the real site instead: ``NMLC_DOCS_SITE=docs/_build/html`` (and ``NMLC_DOCS_SCREENSHOTS=DIR`` for the
screenshots, by default ``<site>/../screenshots``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT / "compiler"), str(ROOT / "validation")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _sphinx(repo: Path) -> subprocess.CompletedProcess:
    try:
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"the docs dependencies are missing ({exc.name}): pip install -e '.[docs]'")
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs",
                           "docs/_build/html"], cwd=repo, env=_env(), capture_output=True, text=True, timeout=1800, check=False)


def _build_mini_repo(repo: Path) -> None:
    from nmlc.scaffold import new_model

    shutil.copytree(ROOT / "docs", repo / "docs", ignore=shutil.ignore_patterns("_build", "models"))
    shutil.copytree(ROOT / "specs", repo / "specs")
    shutil.copytree(ROOT / "benchmarks" / "results", repo / "benchmarks" / "results")  # docs/performance.md shows it
    (repo / "library/neurons/iaf_psc_exp").mkdir(parents=True)
    shutil.copy(ROOT / "library/neurons/iaf_psc_exp/iaf_psc_exp.nestml", repo / "library/neurons/iaf_psc_exp")
    new_model("neuron", "my_neuron", repo / "library")
    new_model("synapse", "my_synapse", repo / "library")
    proc = _sphinx(repo)
    (repo / "first-build.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    (repo / "built").touch()


@pytest.fixture(scope="session")
def mini_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small site, built once per test run: under pytest-xdist the first worker builds it (the others
    wait on a lock and reuse it). Tests must not change it; test_rebuild works on a copy."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    repo = shared / "nmlc-docs-site"
    with FileLock(str(shared / "nmlc-docs-site.lock")):
        if not (repo / "built").exists():
            if repo.exists():
                shutil.rmtree(repo)  # a build that failed half-way
            repo.mkdir()
            _build_mini_repo(repo)
    return repo


class _Facts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.in_figure = 0
        self.figure_imgs = 0
        self.section_ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "figure":
            self.in_figure += 1
        if tag == "img":
            self.imgs.append(a.get("src", ""))
            self.figure_imgs += bool(self.in_figure)
        if tag == "section" and a.get("id"):
            self.section_ids.append(a["id"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.in_figure -= 1


def _page(path: Path) -> _Facts:
    facts = _Facts()
    facts.feed(path.read_text(encoding="utf-8"))
    return facts


def test_catalogue_json(mini_repo: Path) -> None:
    site = mini_repo / "docs/_build/html"
    data = json.loads((site / "catalogue.json").read_text(encoding="utf-8"))
    models = {m["name"]: m for m in data["models"]}
    assert set(models) == {"iaf_psc_exp", "my_neuron", "my_synapse"}
    iaf = models["iaf_psc_exp"]
    assert iaf["kind"] == "neuron" and iaf["nest_model"] == "iaf_psc_exp_nestml"
    assert iaf["validation"]["status"] == "unvalidated"
    tau_m = next(p for p in iaf["parameters"] if p["name"] == "tau_m")
    assert tau_m["unit"] == "ms" and tau_m["default"] == 10.0 and tau_m["description"]
    assert all(r["doi"] and r["url"] == f"https://doi.org/{r['doi']}" for r in iaf["references"])
    assert iaf["solver"]["summary"] == ["exact"]
    neuron = models["my_neuron"]
    assert neuron["validation"]["status"] == "passed"
    assert neuron["validation"]["cases"] == neuron["validation"]["passed"] == 1
    assert neuron["validation"]["results"][0]["expectations"][0]["tolerance"]
    syn = models["my_synapse"]
    assert syn["kind"] == "synapse" and syn["validated_with"] == "iaf_psc_exp"
    assert {p["nest_name"] for p in syn["parameters"] + syn["state"]} >= {"weight", "delay"}
    assert syn["validation"]["status"] == "passed"
    # the index page offers the same file as a download
    assert [p.read_bytes() for p in site.glob("_downloads/*/catalogue.json")] == [
        (site / "catalogue.json").read_bytes()]


def test_model_pages_have_plots_tables_and_source(mini_repo: Path) -> None:
    site = mini_repo / "docs/_build/html"
    for name in ("my_neuron", "my_synapse"):
        page = site / "models" / f"{name}.html"
        facts = _page(page)
        text = page.read_text(encoding="utf-8")
        assert facts.figure_imgs >= 2, f"{name}: expected an overview and an expectation plot"
        for section in ("description", "references", "parameters", "solver", "validation",
                        "using-it-from-pynest", "source"):
            assert section in facts.section_ids, f"{name}: no '{section}' section"
        assert re.search(r'class="[^"]*nmlc-status[^"]*nmlc-pass', text)
        assert "Case <code" in text and "tolerance" in text  # figure captions name the case and tolerance
        assert 'class="highlight-nestml' in text  # the source, highlighted as NESTML
        for src in facts.imgs:
            assert (page.parent / src).resolve().exists(), f"{name}: missing image {src}"
    neuron = (site / "models/my_neuron.html").read_text(encoding="utf-8")
    assert "nmlc-math" in neuron and "mathjax" not in neuron.lower()  # offline math, no CDN
    index = _page(site / "models/index.html")
    assert sum("thumbnail" in s for s in index.imgs) == 2  # the two validated models
    assert "iaf_psc_exp.html" in (site / "models/index.html").read_text(encoding="utf-8")


def test_pynest_snippet_runs(mini_repo: Path, tmp_path: Path) -> None:
    from nmlc.docs.pages import generate_catalogue

    result = generate_catalogue(mini_repo / "library", tmp_path / "pages", root=mini_repo, run_cases=False,
                                log=lambda m: None)
    from nmlc.docs.pages import pynest_snippet

    for entry in result.entries:
        if entry.name not in ("my_neuron", "my_synapse"):
            continue
        code = pynest_snippet(entry, mini_repo)
        assert "nest.Create" in code and "nest.Connect" in code and ".build(" in code
        proc = subprocess.run([sys.executable, "-c", code], cwd=mini_repo, env=_env(), capture_output=True,
                              text=True, timeout=900, check=False)
        assert proc.returncode == 0, f"{entry.name} snippet failed:\n{code}\n{proc.stderr[-3000:]}"


def test_rebuild_reuses_results_and_figures(mini_repo: Path, tmp_path: Path) -> None:
    first = (mini_repo / "first-build.log").read_text(encoding="utf-8")
    assert "running the cases of" in first  # nothing to reuse in a fresh folder
    repo = tmp_path / "repo"
    shutil.copytree(mini_repo, repo)  # copy2 keeps the results' times, so they stay newer than the specs
    proc = _sphinx(repo)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "running the cases of" not in proc.stdout + proc.stderr
    # the pages now say the results were reused; a third build finds nothing to change
    again = _sphinx(repo)
    assert again.returncode == 0, again.stderr[-4000:]
    assert re.search(r"\[nmlc catalogue\] 3 models, 0 files updated", again.stdout), again.stdout[-3000:]
    data = json.loads((repo / "docs/_build/html/catalogue.json").read_text(encoding="utf-8"))
    assert {m["validation"].get("origin") for m in data["models"] if m["validation"]["cases"]} == {"reused"}

    from nmlc.docs.results import collect_results

    spec = repo / "library/neurons/my_neuron/spec.yaml"
    (fresh,) = collect_results([spec], repo, repo / ".nmlc-results", run=False, log=lambda m: None).values()
    assert fresh.origin == "reused" and fresh.status == "passed"
    st = spec.stat()
    os.utime(spec, (st.st_atime, st.st_mtime + 3600))  # the spec is now newer than its results
    (stale,) = collect_results([spec], repo, repo / ".nmlc-results", run=False, log=lambda m: None).values()
    assert stale.origin == "stale"


@pytest.fixture()
def site_under_test(request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """(site, screenshot folder): the site named by NMLC_DOCS_SITE, else the small site built above."""
    given = os.environ.get("NMLC_DOCS_SITE")
    if not given:
        repo = request.getfixturevalue("mini_repo")
        return repo / "docs/_build/html", repo / "docs/_build/screenshots"
    site = Path(given).resolve()
    if not (site / "index.html").exists():
        pytest.fail(f"NMLC_DOCS_SITE={given} has no index.html: build the site first (nox -s docs)")
    return site, Path(os.environ.get("NMLC_DOCS_SCREENSHOTS") or site.parent / "screenshots")


def test_site_in_headless_chromium(site_under_test: tuple[Path, Path]) -> None:
    """Every page loads without script or console errors, every image shows, every internal link and
    anchor resolves; each model page has its validation section and, when it has a spec, a plot."""
    from nmlc.docs.sitecheck import ChromiumUnavailable, check_site, ensure_chromium

    site, shots = site_under_test
    try:
        chromium = ensure_chromium()
    except ChromiumUnavailable as exc:
        pytest.skip(f"headless Chromium is not available and could not be installed: {exc}")
    catalogue = json.loads((site / "catalogue.json").read_text(encoding="utf-8"))
    models = catalogue["models"]
    assert models, "the catalogue lists no models"
    # the model page to photograph: a validated neuron with differential equations, if there is one
    shown = next((m for m in models if m["validation"]["status"] == "passed" and m["kind"] == "neuron"
                  and m["solver"]["summary"] != ["none"]), models[0])
    report = check_site(site, {"index": "models/index.html", "model": f"models/{shown['name']}.html",
                               "home": "index.html"}, shots, executable=chromium)
    assert not report.problems, "\n".join(report.problems[:50])
    for m in models:
        page = f"models/{m['name']}.html"
        assert page in report.pages, f"no page for {m['name']}"
        facts = report.facts[page]
        if m["validation"]["cases"]:
            assert facts["figures"] >= 1, f"{page}: no plot"
            assert facts["validation_table"], f"{page}: no validation table"
    assert {"index", "model"} <= set(report.screenshots)
    for path in report.screenshots.values():
        assert path.stat().st_size > 10_000  # a real picture of a page, not an empty canvas
