"""Code-generation targets: one sub-package per simulator, each with its printer and templates."""
