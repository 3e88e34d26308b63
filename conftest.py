"""Root conftest: registers the nmlc validation plugin, which turns every library/**/spec.yaml into tests."""
pytest_plugins = ["nmlc_validation.pytest_plugin"]

# CI runs property tests with a fixed example sequence (reproducible); locally they explore freely.
import os  # noqa: E402

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
