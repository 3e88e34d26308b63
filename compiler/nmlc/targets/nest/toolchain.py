"""Compile generated C++ sources into a NEST extension module that ``nest.Install`` loads.

Finds a C++ compiler and the headers of the installed NEST (by default the pip
wheel, located without importing ``nest``), keeps a precompiled header of the
NEST headers a generated model needs in nmlc's cache, and compiles and links
modules with the flags the wheel requires (old C++ string ABI, C++20, PIC).

Sources that use NEST's headers must ``#include "nmlc_nest_pch.h"``
(:data:`PCH_HEADER_NAME`) before anything else; :func:`compile_module` puts that
header on the include path. Generated neuron cores include no NEST header at all
(see support.py); :func:`compile_module` takes their include folder and the
adapter object as ``include_dirs`` and ``objects``.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from nmlc.targets.nest.cache import ModuleCache, cache_dir, content_hash

log = logging.getLogger(__name__)

#: Header that generated sources include first; precompiled once per toolchain.
PCH_HEADER_NAME = "nmlc_nest_pch.h"

#: Headers nmlc precompiles: NEST's (in the support folder) and the NEST-free one of generated
#: neuron cores (nmlc_core.h, see support.py).
PRECOMPILED_HEADERS: tuple[str, ...] = (PCH_HEADER_NAME, "nmlc_core.h")

#: Optimisation used unless the caller builds a Toolchain by hand. -DNDEBUG as in the
#: wheel's own build: without it the assert()s inlined from NEST's headers (ring buffers,
#: data loggers) run on every step and cost a generated model ~40 % of its update time.
DEFAULT_OPT_FLAGS: tuple[str, ...] = ("-O2", "-DNDEBUG")

#: Flags without which a module does not load into the NEST 3.10 wheel: the wheel
#: was built with the pre-C++11 std::string ABI, and its headers use C++20.
REQUIRED_CXXFLAGS: tuple[str, ...] = ("-fPIC", "-std=c++20", "-D_GLIBCXX_USE_CXX11_ABI=0")

#: Added when NEST itself uses OpenMP (the wheel does): NEST's headers contain code that
#: modules compile, which without it takes every thread for thread 0 (`get_thread_id()`)
#: and runs the `omp parallel` region that registers a synapse model for each thread on
#: thread 0 only, so a synapse model installed with 2 threads breaks CopyModel and Connect.
#: Modules are linked without libgomp: they use NEST's, which PyNEST has loaded globally.
OPENMP_CXXFLAGS: tuple[str, ...] = ("-fopenmp",)

# NEST headers a generated neuron or synapse model needs. nest_extension_interface.h
# already pulls in the kernel, model and connection managers (and nest_impl.h, which
# has no include guard and so must not be listed again); the rest are listed
# so a model never needs an include of its own.
_PCH_NEST_HEADERS: tuple[str, ...] = (
    "nest_extension_interface.h",
    "archiving_node.h",
    "common_synapse_properties.h",
    "connection.h",
    "connector_model.h",
    "dict_util.h",
    "dictionary.h",
    "event.h",
    "event_delivery_manager_impl.h",
    "exceptions.h",
    "histentry.h",
    "kernel_manager.h",
    "nest_names.h",
    "nest_time.h",
    "nest_types.h",
    "numerics.h",
    "random_generators.h",
    "recordables_map.h",
    "ring_buffer.h",
    "ring_buffer_impl.h",
    "target_identifier.h",
    "universal_data_logger.h",
    "universal_data_logger_impl.h",
)
_PCH_STD_HEADERS: tuple[str, ...] = (
    "algorithm",
    "array",
    "cmath",
    "cstddef",
    "cstdint",
    "limits",
    "map",
    "string",
    "vector",
)

# module_manager.h includes <ltdl.h> only to name the handle type lt_dlhandle in a
# private member. The wheel ships no libltdl headers, so when the system has none
# either, this declaration (libltdl's opaque handle pointer) stands in. It sits on
# the -idirafter path, so a real <ltdl.h> always wins.
_LTDL_SHIM = """\
/* Stand-in for libltdl's <ltdl.h>, written by nmlc: NEST's module_manager.h only
 * needs the opaque handle type, and extension modules never call libltdl. */
#ifndef NMLC_LTDL_SHIM_H
#define NMLC_LTDL_SHIM_H
typedef struct lt__handle* lt_dlhandle;
#endif
"""

# One translation unit rarely needs more; a hung compiler should not hang a test run.
_COMPILE_TIMEOUT_S = 900.0
_SOURCE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_MODULE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TU_SUFFIXES = (".cpp", ".cc", ".cxx")


class ToolchainError(Exception):
    """The compiler, NEST's headers or a build step failed; the message says what to do.

    ``stderr`` holds the compiler's diagnostics when a compile or link step failed.
    """

    def __init__(self, message: str, *, command: list[str] | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.stderr = stderr


def pch_header_text() -> str:
    """Return the text of :data:`PCH_HEADER_NAME`: every header a generated model may use."""
    lines = [
        "/* nmlc_nest_pch.h: written by nmlc. The NEST headers generated models use,",
        " * precompiled once per toolchain. Include it first in every translation unit. */",
        "#ifndef NMLC_NEST_PCH_H",
        "#define NMLC_NEST_PCH_H",
        "",
        "// Before any NEST header, so that its include guard keeps nest_names.h out.",
        f'#include "{_NAMES_HEADER}"',
        "",
    ]
    lines += [f"#include <{name}>" for name in _PCH_STD_HEADERS]
    lines.append("")
    lines += [f'#include "{name}"' for name in _PCH_NEST_HEADERS]
    lines += ["", "#endif", ""]
    return "\n".join(lines)


# NEST's nest_names.h defines some 650 `const std::string` objects at namespace
# scope. Being const, they have internal linkage, so every translation unit that
# includes the header constructs all of them at load time; compiling that
# initialiser costs about 1 s per unit at -O2. nmlc instead declares the same
# names `extern` (taking over the header's include guard) and defines them once
# per toolchain in nmlc_nest_names.o, which every module links. Both files are
# generated from the installed nest_names.h; if its layout is not the expected
# one, the declarations header stays empty and NEST's own header is used.
_NAMES_HEADER = "nmlc_nest_names.h"
_NAMES_SOURCE = "nmlc_nest_names.cpp"
_NAMES_OBJECT = "nmlc_nest_names.o"
_NAME_DEF_RE = re.compile(r'^const std::string (\w+)\( "([^"\\]*)" \);$', re.MULTILINE)


def _names_files(nest_names_h: str | None) -> tuple[str, str]:
    """Return (declarations header, definitions source) generated from nest_names.h's text."""
    banner = "/* Written by nmlc from NEST's nest_names.h; see toolchain.py. */\n"
    names = _NAME_DEF_RE.findall(nest_names_h or "")
    expected = len(re.findall(r"^\s*const std::string\b", nest_names_h or "", re.MULTILINE))
    usable = (
        nest_names_h is not None
        and names
        and len(names) == expected
        and re.search(r"^#ifndef NEST_NAMES_H\s*$", nest_names_h, re.MULTILINE)
    )
    if not usable:
        return banner, banner
    decl = [
        banner.rstrip(),
        "#ifndef NEST_NAMES_H",
        "#define NEST_NAMES_H",
        "",
        '#include "config.h"',
        "#include <string>",
        "",
        "namespace nest::names",
        "{",
    ]
    # Hidden: each module keeps its own copy and never binds to another module's.
    decl += [
        f'extern const std::string {name} __attribute__( ( visibility( "hidden" ) ) );' for name, _ in names
    ]
    decl += ["}", "", "#endif", ""]
    defs = [banner.rstrip(), f'#include "{_NAMES_HEADER}"', "", "namespace nest::names", "{"]
    defs += [f'const std::string {name}( "{value}" );' for name, value in names]
    defs += ["}", ""]
    return "\n".join(decl), "\n".join(defs)


@dataclass(frozen=True)
class Toolchain:
    """How to compile and link a NEST extension module.

    ``cxx`` is a command line (``"g++"``, ``"ccache g++"``); ``include_dirs`` are
    NEST's and Boost's header folders. nmlc's own support headers are added by
    :func:`compile_module`.
    """

    cxx: str
    cxxflags: tuple[str, ...]
    include_dirs: tuple[str, ...]
    ldflags: tuple[str, ...]

    def cxx_argv(self) -> list[str]:
        """Return ``cxx`` split into argv words."""
        return _split_cxx(self.cxx)

    def nest_version(self) -> str:
        """Return NEST_VERSION from the first ``config.h`` among the include dirs, or ``"unknown"``."""
        for folder in self.include_dirs:
            version = _nest_version_from(Path(folder))
            if version:
                return version
        return "unknown"

    def fingerprint(self) -> str:
        """Return a sha256 hex digest of compiler identity, flags, include dirs and NEST version."""
        return content_hash(
            _compiler_identity(self.cxx),
            "\0".join(self.cxxflags),
            "\0".join(self.include_dirs),
            "\0".join(self.ldflags),
            self.nest_version(),
        )

    def is_gcc(self) -> bool:
        """Whether the compiler is GCC, whose precompiled-header lookup compile_module relies on."""
        identity = _compiler_identity(self.cxx).lower()
        return "clang" not in identity and ("free software foundation" in identity or "gcc" in identity)


def _split_cxx(cxx: str) -> list[str]:
    try:
        argv = shlex.split(cxx)
    except ValueError as err:
        raise ToolchainError(f"cannot parse the C++ compiler command {cxx!r} ({err}); fix $CXX") from None
    if not argv:
        raise ToolchainError("the C++ compiler command is empty: set $CXX to a compiler such as g++")
    return argv


def _run(cmd: list[str], *, timeout: float = _COMPILE_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"  # plain ASCII quotes in diagnostics, whatever the user's locale
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except FileNotFoundError:
        raise ToolchainError(
            f"cannot run {cmd[0]!r}: not found; install g++ (Debian/Ubuntu: apt install g++) or set $CXX",
            command=cmd,
        ) from None
    except subprocess.TimeoutExpired:
        raise ToolchainError(
            f"{shlex.join(cmd)} did not finish within {timeout:.0f} s", command=cmd
        ) from None


@functools.cache
def _compiler_identity(cxx: str) -> str:
    """Return the compiler's resolved path, ``--version`` text and target triple."""
    argv = _split_cxx(cxx)
    version = _run([*argv, "--version"], timeout=60)
    machine = _run([*argv, "-dumpmachine"], timeout=60)
    if version.returncode != 0:
        raise ToolchainError(
            f"{cxx!r} --version failed (exit {version.returncode}): {version.stderr.strip()}; "
            "set $CXX to a working C++ compiler",
            stderr=version.stderr,
        )
    # Resolve every word: for "ccache g++" both the wrapper and the compiler matter.
    resolved = " ".join(os.path.realpath(found) if (found := shutil.which(word)) else word for word in argv)
    return f"{resolved}\n{version.stdout.strip()}\n{machine.stdout.strip()}"


def _nest_version_from(folder: Path) -> str | None:
    try:
        text = (folder / "config.h").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    version = re.search(r'#define\s+NEST_VERSION\s+"([^"]*)"', text)
    git_hash = re.search(r'#define\s+NEST_VERSION_GIT_HASH\s+"([^"]*)"', text)
    if not version:
        return None
    return version.group(1) + (f"+{git_hash.group(1)}" if git_hash and git_hash.group(1) else "")


def _package_dir(name: str) -> Path | None:
    # find_spec locates a top-level package without executing it; importing nest
    # would print its banner and start a kernel.
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _resolve_nest_include(nest_include: str | os.PathLike[str] | None) -> Path:
    if nest_include is None:
        package = _package_dir("nest")
        if package is None:
            raise ToolchainError(
                "NEST is not installed in this Python environment: run `pip install nest-simulator==3.10.*`, "
                "or pass nest_include=<folder with NEST's headers> for a NEST built from source"
            )
        candidates = [package / "include" / "nest"]
        where = f"the nest package at {package}"
    else:
        given = Path(nest_include).expanduser()
        # Accept the header folder itself, <prefix>/include, or the install prefix.
        candidates = [given, given / "nest", given / "include" / "nest"]
        where = str(given)
    for folder in candidates:
        if (folder / "node.h").is_file():
            break
    else:
        raise ToolchainError(
            f"no NEST C++ headers (node.h) found in {where}; reinstall NEST (`pip install "
            "--force-reinstall nest-simulator==3.10.*`) or pass nest_include=<prefix>/include/nest"
        )
    if not (folder / "nest_extension_interface.h").is_file():
        raise ToolchainError(
            f"the NEST headers in {folder} (version {_nest_version_from(folder) or 'unknown'}) have no "
            "nest_extension_interface.h: nmlc targets NEST 3.10's extension interface; install NEST 3.10"
        )
    return folder.resolve()


def nest_include_from_config(nest_config: str | os.PathLike[str]) -> Path:
    """Return the NEST header folder that ``nest-config --includes`` names (a NEST built from source).

    ``nest_config`` is the path of the ``nest-config`` script of that installation (or its name on
    PATH). Raises :class:`ToolchainError` if it cannot be run or names no folder with NEST's headers.
    """
    program = shutil.which(str(nest_config)) or str(nest_config)
    try:
        result = subprocess.run([program, "--includes"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        raise ToolchainError(f"cannot run {nest_config!s} --includes: {err}") from None
    if result.returncode != 0:
        raise ToolchainError(f"{nest_config!s} --includes failed (exit {result.returncode}): "
                             f"{result.stderr.strip() or result.stdout.strip()}")
    folders = [word[2:] for word in shlex.split(result.stdout) if word.startswith("-I") and len(word) > 2]
    for folder in folders:
        for candidate in (Path(folder), Path(folder) / "nest"):
            if (candidate / "node.h").is_file():
                return candidate.resolve()
    raise ToolchainError(f"{nest_config!s} --includes names no folder with NEST's headers (node.h): "
                         f"{result.stdout.strip() or '(nothing)'}")


@functools.cache
def _nest_uses_openmp(nest_folder: Path) -> bool:
    """Whether the NEST library of these headers calls OpenMP (true for the wheel).

    Looks for the kernel library in the wheel's layout (``nest/include/nest`` next to
    ``nest/nestkernel_api.so``) and in an install prefix (``<prefix>/include/nest`` and
    ``<prefix>/lib*/nest``); NEST builds with OpenMP unless told otherwise, so a library
    that cannot be found counts as using it.
    """
    candidates = [*nest_folder.parent.parent.glob("nestkernel_api*.so")]
    for libdir in nest_folder.parent.parent.glob("lib*"):
        candidates += [*libdir.glob("nest/*nest*.so*"), *libdir.glob("*nest*.so*")]
    for lib in candidates:
        try:
            data = lib.read_bytes()
        except OSError:
            continue
        return b"omp_get_thread_num" in data or b"GOMP_parallel" in data
    return True


def _boost_include(nest_folder: Path) -> Path | None:
    config_h = nest_folder / "config.h"
    config = config_h.read_text(encoding="utf-8", errors="replace") if config_h.is_file() else ""
    needs_boost = re.search(r"#define\s+HAVE_BOOST\b", config) is not None
    package = _package_dir("boost_headers")
    if package is not None and (package / "include" / "boost" / "type_index.hpp").is_file():
        return (package / "include").resolve()
    if not needs_boost:
        return None
    for system in (Path("/usr/include"), Path("/usr/local/include")):
        if (system / "boost" / "type_index.hpp").is_file():
            return None  # found by the compiler without -I
    raise ToolchainError(
        "NEST's headers include Boost (boost/type_index.hpp), which was not found: "
        "run `pip install boost-headers` (headers only), or install Boost's headers system-wide"
    )


def find_toolchain(nest_include: str | os.PathLike[str] | None = None) -> Toolchain:
    """Return the toolchain for the installed NEST.

    By default NEST's headers come from the pip-installed ``nest`` package and
    Boost's from the ``boost_headers`` package; ``nest_include`` points at the
    headers of a NEST built from source instead. ``$CXX`` overrides ``g++``.
    Raises :class:`ToolchainError` if something is missing.
    """
    cxx = os.environ.get("CXX", "").strip() or "g++"
    argv = _split_cxx(cxx)
    if shutil.which(argv[0]) is None:
        origin = "$CXX" if os.environ.get("CXX", "").strip() else "the default compiler"
        raise ToolchainError(
            f"C++ compiler {cxx!r} ({origin}) not found on PATH: install g++ "
            "(Debian/Ubuntu: apt install g++) or set $CXX to the compiler to use"
        )
    nest_folder = _resolve_nest_include(nest_include)
    include_dirs = [str(nest_folder)]
    boost = _boost_include(nest_folder)
    if boost is not None:
        include_dirs.append(str(boost))
    openmp = OPENMP_CXXFLAGS if _nest_uses_openmp(nest_folder) else ()
    return Toolchain(
        cxx=cxx,
        cxxflags=DEFAULT_OPT_FLAGS + REQUIRED_CXXFLAGS + openmp,
        include_dirs=tuple(include_dirs),
        ldflags=("-shared",),
    )


def _support_flags(support: Path) -> list[str]:
    # -Winvalid-pch: say so when a stale precompiled header is skipped (the build still works).
    return [
        "-I",
        str(support),
        "-idirafter",
        str(support / "compat"),
        "-Winvalid-pch",
        "-fdiagnostics-color=never",
    ]


def _include_flags(toolchain: Toolchain) -> list[str]:
    flags: list[str] = []
    for folder in toolchain.include_dirs:
        flags += ["-I", folder]
    return flags


def _read_nest_names(toolchain: Toolchain) -> str | None:
    for folder in toolchain.include_dirs:
        path = Path(folder) / "nest_names.h"
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    return None


def support_texts(toolchain: Toolchain) -> dict[str, str]:
    """The files of nmlc's support folder for ``toolchain`` that are written, not compiled: file name to text."""
    names_h, names_cpp = _names_files(_read_nest_names(toolchain))
    return {
        PCH_HEADER_NAME: pch_header_text(),
        _NAMES_HEADER: names_h,
        _NAMES_SOURCE: names_cpp,
        "compat/ltdl.h": _LTDL_SHIM,
    }


def support_include_dir(toolchain: Toolchain, *, precompile: bool = True) -> Path:
    """Return nmlc's support folder for ``toolchain``, building it on first use.

    The folder holds :data:`PCH_HEADER_NAME` and its precompiled form (GCC only,
    when ``precompile``), the ``nest_names.h`` replacement with its object file
    ``nmlc_nest_names.o`` that every module links, and the ``<ltdl.h>``
    stand-in. It lives in nmlc's cache, keyed by the toolchain's fingerprint and
    the generated texts; a file lock makes concurrent processes (for example
    pytest-xdist workers) build it once.
    """
    precompile = precompile and toolchain.is_gcc()
    texts = support_texts(toolchain)
    key = content_hash(
        toolchain.fingerprint(),
        *(f"{k}\n{v}" for k, v in sorted(texts.items())),
        "pch" if precompile else "text",
    )[:32]

    def make(folder: Path) -> Path:
        (folder / "compat").mkdir()
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        base = [
            *toolchain.cxx_argv(),
            *toolchain.cxxflags,
            *_support_flags(folder),
            *_include_flags(toolchain),
        ]
        steps = {
            "compiling " + _NAMES_SOURCE: [
                *base,
                "-c",
                str(folder / _NAMES_SOURCE),
                "-o",
                str(folder / _NAMES_OBJECT),
            ]
        }
        if precompile:
            header = str(folder / PCH_HEADER_NAME)
            steps["precompiling NEST's headers"] = [*base, "-x", "c++-header", header, "-o", header + ".gch"]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            results = dict(zip(steps, pool.map(_run, steps.values())))
        for what, result in results.items():
            if result.returncode != 0:
                raise ToolchainError(
                    f"{what} failed (exit {result.returncode}); the NEST or Boost headers in "
                    f"{', '.join(toolchain.include_dirs)} do not compile with {toolchain.cxx!r}:\n"
                    f"{result.stderr}",
                    command=steps[what],
                    stderr=result.stderr,
                )
        log.info("built nmlc's support files (%s) in %.1f s", ", ".join(steps), time.perf_counter() - started)
        return folder / PCH_HEADER_NAME

    return ModuleCache(cache_dir() / "support").build(key, make).parent


def _check_inputs(sources: Mapping[str, str], module_name: str, jobs: int) -> list[str]:
    if not isinstance(module_name, str) or not _MODULE_NAME_RE.match(module_name):
        raise ToolchainError(
            f"invalid module name {module_name!r}: use a C identifier (letters, digits, underscores)"
        )
    if not isinstance(jobs, int) or jobs < 1:
        raise ToolchainError(f"jobs must be a positive integer, got {jobs!r}")
    for name, text in sources.items():
        if not isinstance(name, str) or not _SOURCE_NAME_RE.match(name) or ".." in name:
            raise ToolchainError(
                f"invalid source file name {name!r}: use a plain file name such as model.cpp"
            )
        if name == PCH_HEADER_NAME:
            raise ToolchainError(f"a source may not be called {PCH_HEADER_NAME}: nmlc provides that header")
        if not isinstance(text, str):
            raise ToolchainError(f"source {name!r} is {type(text).__name__}, expected str")
    units = sorted(name for name in sources if name.endswith(_TU_SUFFIXES))
    if not units:
        raise ToolchainError(
            f"no translation unit among the sources {sorted(sources)}: at least one file must end in .cpp"
        )
    return units


def compile_module(
    sources: Mapping[str, str],
    out_dir: Path,
    module_name: str,
    toolchain: Toolchain,
    jobs: int = 2,
    *,
    use_pch: bool = True,
    single_tu: bool = False,
    groups: Sequence[Sequence[str]] | None = None,
    group_flags: Sequence[Sequence[str]] = (),
    include_dirs: Sequence[Path] = (),
    objects: Sequence[Path] = (),
) -> Path:
    """Write ``sources`` into ``out_dir`` and build ``out_dir/<module_name>.so``.

    ``sources`` maps file names to text; every ``.cpp`` is a translation unit,
    compiled with up to ``jobs`` compilers in parallel (``single_tu`` compiles
    them as one unit instead, which parses NEST's headers only once). ``groups``
    lists units to compile together, each group as one unit, in the given order
    before the remaining units: every unit that includes NEST's headers costs
    seconds of template instantiation, so such units are best grouped;
    ``group_flags[i]`` are extra compiler flags for group ``i``. ``include_dirs``
    and ``objects`` are added to the compile and link commands.
    The link is atomic: the ``.so`` appears complete or not at all, and a module
    left over from earlier sources is removed first. Raises
    :class:`ToolchainError`, carrying the compiler's stderr, if a step fails.
    """
    units = _check_inputs(sources, module_name, jobs)
    if single_tu and len(units) > 1:
        groups = [units]
    plan = _plan_units(units, groups or [])
    out_dir = Path(out_dir).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in sources.items():
            (out_dir / name).write_text(text, encoding="utf-8")
    except OSError as err:
        raise ToolchainError(f"cannot write the sources into {out_dir}: {err}") from None
    target = out_dir / f"{module_name}.so"
    target.unlink(missing_ok=True)

    build_dir = Path(tempfile.mkdtemp(prefix=".nmlc-build-", dir=out_dir))
    try:
        unit_paths = []
        firsts = []
        flags = [list(group_flags[i]) if i < len(group_flags) else [] for i in range(len(plan))]
        for index, members in enumerate(plan):
            first = _first_include(sources[members[0]])
            if len(members) == 1:
                unit_paths.append(out_dir / members[0])
                firsts.append(first)
                continue
            # A precompiled header is only used as the first include of the unit itself.
            unity = build_dir / f"{module_name}_part{index}.cpp"
            if first is None or not any(pch in first for pch in PRECOMPILED_HEADERS):
                first = f'#include "{PCH_HEADER_NAME}"'
            unity.write_text(first + "\n" + "".join(f'#include "{out_dir / u}"\n' for u in members),
                             encoding="utf-8")
            unit_paths.append(unity)
            firsts.append(first)
        # NEST's headers are precompiled (about 10 s, once per toolchain) only when a unit uses them:
        # a module of neuron cores never waits for it
        needs_pch = any(first is not None and PCH_HEADER_NAME in first for first in firsts)
        support = support_include_dir(toolchain, precompile=use_pch and needs_pch)
        compiled = _compile_units(unit_paths, build_dir, toolchain, support, jobs, include_dirs, flags)

        partial = build_dir / f"{module_name}.so"
        # The names object goes first so its strings are constructed before any
        # other static initialiser of the module runs.
        cmd = [
            *toolchain.cxx_argv(),
            *toolchain.ldflags,
            str(support / _NAMES_OBJECT),
            *map(str, compiled),
            *map(str, objects),
            "-o",
            str(partial),
        ]
        result = _run(cmd)
        if result.returncode != 0:
            raise ToolchainError(
                f"linking {target.name} failed (exit {result.returncode}):\n{result.stderr}",
                command=cmd,
                stderr=result.stderr,
            )
        # Same file system, so the replace is atomic.
        os.replace(partial, target)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return target


def unit_compile_command(
    toolchain: Toolchain, support: Path, unit: Path, obj: Path, include_dirs: Sequence[Path] = ()
) -> list[str]:
    """Return the command compile_module runs to compile ``unit`` into ``obj``.

    ``support`` is the folder returned by :func:`support_include_dir`; it comes
    first on the include path so that GCC finds the precompiled header, followed
    by ``include_dirs``.
    """
    return [
        *toolchain.cxx_argv(),
        *toolchain.cxxflags,
        *_support_flags(support),
        *[flag for folder in include_dirs for flag in ("-I", str(folder))],
        *_include_flags(toolchain),
        "-c",
        str(unit),
        "-o",
        str(obj),
    ]


def _plan_units(units: list[str], groups: Sequence[Sequence[str]]) -> list[list[str]]:
    """The translation units to compile, in order: ``groups`` first, then every unit not in a group."""
    plan: list[list[str]] = []
    seen: set[str] = set()
    for group in groups:
        members = list(group)
        bad = [u for u in members if u not in units or u in seen]
        if bad or not members:
            raise ToolchainError(f"invalid unit group {members!r}: every member must be a .cpp source, in one group")
        seen.update(members)
        plan.append(members)
    plan += [[u] for u in units if u not in seen]
    return plan


def _first_include(text: str) -> str | None:
    match = re.search(r'^\s*#\s*include\s*"[^"]+"', text, re.MULTILINE)
    return match.group(0).strip() if match else None


def _compile_units(
    units: list[Path], build_dir: Path, toolchain: Toolchain, support: Path, jobs: int,
    include_dirs: Sequence[Path] = (), flags: Sequence[Sequence[str]] = (),
) -> list[Path]:
    def compile_one(
        index: int, unit: Path
    ) -> tuple[Path, list[str], subprocess.CompletedProcess[str], float]:
        obj = build_dir / f"{index:02d}_{unit.stem}.o"
        extra = list(flags[index]) if index < len(flags) else []
        cmd = unit_compile_command(toolchain, support, unit, obj, include_dirs) + extra
        started = time.perf_counter()
        return obj, cmd, _run(cmd), time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=min(jobs, len(units))) as pool:
        results = list(pool.map(lambda item: compile_one(*item), enumerate(units)))

    failures = [(unit, cmd, res) for unit, (_, cmd, res, _) in zip(units, results) if res.returncode != 0]
    if failures:
        unit, cmd, res = failures[0]
        stderr = "\n".join(r.stderr for _, _, r in failures)
        names = ", ".join(u.name for u, _, _ in failures)
        raise ToolchainError(
            f"compiling {names} failed (exit {res.returncode}):\n{stderr}", command=cmd, stderr=stderr
        )
    for unit, (_, _, res, seconds) in zip(units, results):
        log.info("compiled %s in %.1f s", unit.name, seconds)
        if res.stderr.strip():
            log.warning("compiler output for %s:\n%s", unit.name, res.stderr)
    return [obj for obj, _, _, _ in results]
