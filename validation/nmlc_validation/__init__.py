"""nmlc_validation: declarative behavioural specs (``spec.yaml``) for NEST models and the harness that runs them.

Public entry points: :func:`run` (validate specs, one :class:`CaseResult` per case), :func:`summary_table`,
:func:`regenerate_references` (rewrite stored reference files on purpose), :func:`load_spec`.
"""
from __future__ import annotations

from .errors import BuildError, HarnessError, SpecError, SpecIssue
from .expectations import ExpectationResult
from .harness import Harness, discover, regenerate_references, run
from .results import CaseResult, summary_table
from .spec import Spec, load_spec

__all__ = [
    "BuildError", "CaseResult", "ExpectationResult", "Harness", "HarnessError", "Spec", "SpecError", "SpecIssue",
    "discover", "load_spec", "regenerate_references", "run", "summary_table",
]
