"""Root conftest: registers the nmlc validation plugin, which turns every library/**/spec.yaml into tests."""
pytest_plugins = ["nmlc_validation.pytest_plugin"]
