"""Names that generated models must not take: the installed NEST's built-in node and synapse models."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def nest_builtin_models() -> frozenset[str]:
    """Asked from NEST itself (imported only when a build really generates code)."""
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    return frozenset(nest.node_models) | frozenset(nest.synapse_models)
