"""Names that generated models must not take: the installed NEST's built-in node and synapse models.

Asked from NEST itself once per NEST version, then kept in the cache folder, so that a build does
not pay for importing NEST (about half a second) just to check names.
"""
from __future__ import annotations

import json
from functools import lru_cache


@lru_cache(maxsize=1)
def nest_builtin_models() -> frozenset[str]:
    from .cache import cache_dir
    from .toolchain import find_toolchain

    try:
        version = find_toolchain().nest_version()
    except Exception:  # no toolchain: ask NEST directly below
        version = None
    path = cache_dir() / "support" / f"nest-builtin-models-{version}.json" if version else None
    if path is not None and path.is_file():
        try:
            return frozenset(json.loads(path.read_text()))
        except (OSError, ValueError):
            pass
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    names = frozenset(nest.node_models) | frozenset(nest.synapse_models)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(sorted(names)))
            tmp.replace(path)
        except OSError:
            pass
    return names
