"""pytest plugin: every ``spec.yaml`` becomes a file node, every case a test item (``spec.yaml::case``).

An invalid spec still yields items (one per case, or ``<spec>`` if even the case names are unknown) that
fail with the file, line and YAML path of each problem. Under pytest-xdist every worker builds through the
same file-locked nmlc build cache, so no two workers compile the same sources.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from .harness import NO_CASES, Harness
from .results import CaseResult, result_from_json, summary_table
from .spec import SPEC_FILENAME, Spec

_HARNESS = pytest.StashKey[Harness]()
_PREBUILT = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nmlc", "nmlc behavioural validation")
    group.addoption("--nmlc-results", default=None, metavar="DIR",
                    help="folder for per-case JSON results and plots (default: <rootdir>/.nmlc-results)")
    group.addoption("--nmlc-plots", default="failed", choices=("failed", "all", "none"),
                    help="which expectations get a PNG plot (default: failed)")
    group.addoption("--nmlc-target", "--target", dest="nmlc_target", default="nest", choices=("nest", "python"),
                    help="code-generation target the models under test run on (default: nest)")


def _harness(config: pytest.Config) -> Harness:
    if _HARNESS not in config.stash:
        config.stash[_HARNESS] = Harness(results_dir=config.getoption("nmlc_results"), rootdir=config.rootpath,
                                         plots=config.getoption("nmlc_plots"),
                                         target=config.getoption("nmlc_target"))
    return config.stash[_HARNESS]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == SPEC_FILENAME:
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecFile(pytest.File):
    """A ``spec.yaml``; loading it never raises, problems travel with the items."""

    def collect(self) -> Iterator[pytest.Item]:
        spec = _harness(self.config).load(self.path)
        for name in spec.case_names or [NO_CASES]:
            yield CaseItem.from_parent(self, name=name, spec=spec)


class CaseFailed(Exception):
    """Raised by a case item whose case failed or could not run; carries the full report."""

    def __init__(self, result: CaseResult):
        super().__init__(result.report())
        self.result = result


class CaseItem(pytest.Item):
    """One case of one spec."""

    def __init__(self, *, spec: Spec, **kwargs: Any):
        super().__init__(**kwargs)
        self.spec = spec

    def _prebuild(self) -> None:
        # the first item in each process builds every collected model at once: one nmlc.build call
        # (file-locked, cached), instead of one build per spec
        if self.config.stash.get(_PREBUILT, False):
            return
        self.config.stash[_PREBUILT] = True
        specs = {id(i.spec): i.spec for i in self.session.items if isinstance(i, CaseItem)}
        _harness(self.config).prebuild(specs.values())

    def runtest(self) -> None:
        self._prebuild()
        result = _harness(self.config).run_case(self.spec, self.name)
        if result.json_path:
            self.user_properties.append(("nmlc_result", result.json_path))
        if not result.passed:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return excinfo.value.result.report()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.spec.display}::{self.name}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # runs in the controller under xdist too (user_properties travel with the report), so the summary
    # below covers every worker's cases
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == "nmlc_result":
            _collected_paths.append(value)


_collected_paths: list[str] = []


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _collected_paths:
        return
    results = []
    for path in dict.fromkeys(_collected_paths):
        try:
            results.append(result_from_json(json.loads(Path(path).read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError):
            continue
    if results:
        terminalreporter.write_sep("-", "nmlc validation summary")
        terminalreporter.write_line(summary_table(results))
