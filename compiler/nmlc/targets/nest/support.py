"""nmlc's NEST adapter and the precompiled header of generated neuron cores, built once per toolchain.

Generated neurons are compiled without NEST's headers: every translation unit that includes them
spends about 2.5 s instantiating the templates they use, whatever the model. What a neuron core
needs of NEST (support/nmlc_abi.h) is implemented once by the adapter (support/nmlc_nest_adapter.cpp),
compiled here and linked into every module nmlc builds. The folder also holds ``nmlc_core.h``, which
every neuron core includes first (the standard library, nmlc_abi.h and the numeric runtime), in
precompiled form.

:func:`plan_units` groups a module's translation units so that those that do include NEST's
headers (synapses, co-generated neurons) are compiled as few times as the parallel jobs allow.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .cache import ModuleCache, cache_dir, content_hash
from .toolchain import (
    PCH_HEADER_NAME,
    Toolchain,
    ToolchainError,
    _first_include,
    _include_flags,
    _run,
    _support_flags,
    support_texts,
)

log = logging.getLogger(__name__)

SOURCES = Path(__file__).parent / "support"
RUNTIME = Path(__file__).parent / "runtime"
#: The header every generated neuron core includes first (precompiled).
CORE_HEADER = "nmlc_core.h"
#: The adapter object every module built by nmlc links.
ADAPTER_OBJECT = "nmlc_nest_adapter.o"
_STD_HEADERS = ("algorithm", "array", "cmath", "cstddef", "cstdint", "deque", "iostream", "limits", "new", "string",
                "vector")


def core_header_text() -> str:
    """The text of :data:`CORE_HEADER`."""
    lines = ["/* nmlc_core.h: written by nmlc. Everything a generated neuron core uses, precompiled once per",
             " * toolchain; no NEST header (see nmlc_abi.h). */", "#ifndef NMLC_CORE_H", "#define NMLC_CORE_H", ""]
    lines += [f"#include <{h}>" for h in _STD_HEADERS]
    lines += ["", '#include "nmlc_abi.h"', '#include "nmlc_rt.h"', '#include "nmlc_rt_random.h"', "", "#endif", ""]
    return "\n".join(lines)


def _texts() -> dict[str, str]:
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(SOURCES.iterdir()) if p.suffix in (".h", ".cpp")}
    texts.update({p.name: p.read_text(encoding="utf-8") for p in sorted(RUNTIME.glob("*.h"))})
    texts[CORE_HEADER] = core_header_text()
    return texts


def runtime_support_dir(toolchain: Toolchain) -> Path:
    """Return the folder with the adapter object and the core header for ``toolchain``, building it once.

    It lives in nmlc's cache (``<cache>/runtime/<key>``), keyed by the toolchain and the sources; a
    file lock makes concurrent processes build it once. It needs nothing else built: the adapter is
    compiled with NEST's headers as they are (the support folder's header texts are copied here), so
    that the first build on a machine compiles it while NEST's headers are precompiled, if a module
    needs them at all, instead of after.
    """
    texts = {**support_texts(toolchain), **_texts()}
    key = content_hash(toolchain.fingerprint(), *(f"{k}\n{v}" for k, v in sorted(texts.items())))[:32]

    def make(folder: Path) -> Path:
        (folder / "compat").mkdir()
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        base = [*toolchain.cxx_argv(), *toolchain.cxxflags, *_support_flags(folder), *_include_flags(toolchain)]
        steps = {
            "precompiling " + CORE_HEADER: [*base, "-x", "c++-header", str(folder / CORE_HEADER), "-o",
                                            str(folder / (CORE_HEADER + ".gch"))],
            "compiling nmlc's NEST adapter": [*base, "-c", str(folder / "nmlc_nest_adapter.cpp"), "-o",
                                              str(folder / ADAPTER_OBJECT)],
        }
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            results = dict(zip(steps, pool.map(_run, steps.values())))
        for what, result in results.items():
            if result.returncode != 0:
                raise ToolchainError(f"{what} failed (exit {result.returncode}):\n{result.stderr}",
                                     command=steps[what], stderr=result.stderr)
        log.info("built nmlc's runtime support in %.1f s", time.perf_counter() - started)
        return folder / ADAPTER_OBJECT

    return ModuleCache(cache_dir() / "runtime").build(key, make).parent


def _includes_nest(text: str) -> bool:
    """Whether a unit's first include is NEST's precompiled header."""
    first = _first_include(text)
    return first is not None and f'"{PCH_HEADER_NAME}"' in first


def uses_nest_headers(sources: Mapping[str, str]) -> bool:
    """Whether a unit of ``sources`` includes NEST's headers (through the precompiled header)."""
    return any(_includes_nest(text) for name, text in sources.items() if name.endswith(".cpp"))


def plan_units(sources: Mapping[str, str], jobs: int) -> tuple[list[list[str]], list[list[str]]]:
    """Group the ``.cpp`` units of a module for :func:`compile_module`: (groups, extra flags per group).

    Units that include NEST's headers (synapses, co-generated neurons) pay about 2.5 s each for the
    templates of those headers, so they are merged into at most ``jobs`` groups, compiled first; the
    NEST-free neuron cores and the registration unit cost little on their own and form at most
    ``jobs`` groups as well, compiled with -O3 (which vectorises the numeric solvers' array
    arithmetic at no cost in compile time there; results are the same without -ffast-math). Within
    each kind, units are dealt to the lightest group by source size.
    """
    units = sorted(name for name in sources if name.endswith(".cpp"))
    nest = [u for u in units if _includes_nest(sources[u])]
    core = [u for u in units if u not in nest]
    groups: list[list[str]] = []
    flags: list[list[str]] = []
    for kind, extra in ((nest, []), (core, ["-O3"])):
        if not kind:
            continue
        bins: list[list[str]] = [[] for _ in range(min(max(jobs, 1), len(kind)))]
        sizes = [0] * len(bins)
        for u in sorted(kind, key=lambda u: -len(sources[u])):
            i = sizes.index(min(sizes))
            bins[i].append(u)
            sizes[i] += len(sources[u])
        groups += [sorted(b) for b in bins]
        flags += [list(extra) for _ in bins]
    return groups, flags
