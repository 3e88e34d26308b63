"""Tests of the NEST build toolchain, the module cache and the hand-written reference module.

The reference module (tests/data/handwritten/) is compiled with the real
toolchain and run beside NEST's built-in iaf_psc_exp in a separate process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nmlc.targets.nest.cache import ModuleCache, cache_dir, content_hash
from nmlc.targets.nest.toolchain import (
    PCH_HEADER_NAME,
    REQUIRED_CXXFLAGS,
    Toolchain,
    ToolchainError,
    compile_module,
    find_toolchain,
    nest_include_from_config,
    support_include_dir,
    unit_compile_command,
)

HANDWRITTEN = Path(__file__).parent / "data" / "handwritten"
COMPILER_ROOT = Path(__file__).resolve().parents[1]  # the folder holding the nmlc package
MODEL = "hw_iaf_psc_exp"

# Tolerances of the comparison with NEST's iaf_psc_exp (brief: 1e-9 mV, identical spikes).
V_M_TOL_MV = 1e-9
I_SYN_TOL_PA = 1e-9


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COMPILER_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    return find_toolchain()


@pytest.fixture(scope="session")
def handwritten_sources() -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(HANDWRITTEN.iterdir())
        if p.suffix in {".h", ".cpp"}
    }


@pytest.fixture(scope="session")
def built_module(tmp_path_factory, toolchain, handwritten_sources):
    """The reference module, built once per session through a ModuleCache."""
    cache = ModuleCache(tmp_path_factory.mktemp("module-cache"))
    key = content_hash(toolchain.fingerprint(), *sorted(f"{k}\n{v}" for k, v in handwritten_sources.items()))[
        :24
    ]
    calls = []

    def make(folder: Path) -> Path:
        calls.append(folder)
        return compile_module(handwritten_sources, folder, "hw_module", toolchain, single_tu=True)

    so_path = cache.build(key, make)
    assert len(calls) == 1
    return cache, key, so_path


def _run_nest_checks(so_path: Path, model: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(HANDWRITTEN / "nest_checks.py"), str(so_path), model],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=_subprocess_env(),
    )
    assert proc.returncode == 0, f"nest_checks.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def nest_report(built_module) -> dict:
    _, _, so_path = built_module
    return _run_nest_checks(so_path, MODEL)


# --------------------------------------------------------------------------- find_toolchain


def test_find_toolchain_uses_the_wheel_headers(toolchain):
    folders = [Path(d) for d in toolchain.include_dirs]
    assert any((d / "node.h").is_file() and (d / "nest_extension_interface.h").is_file() for d in folders)
    assert any((d / "boost" / "type_index.hpp").is_file() for d in folders)
    for flag in REQUIRED_CXXFLAGS:
        assert flag in toolchain.cxxflags
    assert "-shared" in toolchain.ldflags
    assert toolchain.nest_version().startswith("3.10")


def test_find_toolchain_does_not_import_nest():
    code = (
        "import sys; from nmlc.targets.nest.toolchain import find_toolchain; "
        "find_toolchain(); print('nest' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_find_toolchain_accepts_a_nest_prefix(toolchain):
    nest_dir = next(Path(d) for d in toolchain.include_dirs if (Path(d) / "node.h").is_file())
    for given in (nest_dir, nest_dir.parent, nest_dir.parent.parent):  # .../include/nest, .../include, prefix
        assert find_toolchain(nest_include=str(given)).include_dirs[0] == str(nest_dir)


def test_find_toolchain_rejects_a_folder_without_headers(tmp_path):
    with pytest.raises(ToolchainError, match="node.h") as info:
        find_toolchain(nest_include=str(tmp_path))
    assert str(tmp_path) in str(info.value)


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_nest_config_names_the_header_folder(tmp_path, toolchain):
    nest_dir = next(Path(d) for d in toolchain.include_dirs if (Path(d) / "node.h").is_file())
    # nest-config of an installation lists <prefix>/include (NEST's headers are one level down) among others
    config = _script(tmp_path / "nest-config", f'[ "$1" = --includes ] && echo "-I{tmp_path} -I{nest_dir.parent}"')
    assert nest_include_from_config(config) == nest_dir.resolve()
    proc = subprocess.run([sys.executable, "-m", "nmlc.cli", "build", "--nest-config", str(config), "--nest-include",
                           str(nest_dir), "x.nestml"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not allowed with" in proc.stderr  # one way of naming NEST at a time


@pytest.mark.parametrize("body, message", [
    ("exit 3", "failed \\(exit 3\\)"),
    ('echo "-I/nonexistent/include"', "names no folder with NEST's headers"),
])
def test_nest_config_errors_are_clear(tmp_path, body, message):
    with pytest.raises(ToolchainError, match=message):
        nest_include_from_config(_script(tmp_path / "nest-config", body))
    with pytest.raises(ToolchainError, match="cannot run"):
        nest_include_from_config(tmp_path / "missing-nest-config")
    proc = subprocess.run([sys.executable, "-m", "nmlc.cli", "build", "--nest-config", str(tmp_path / "nest-config"),
                           "x.nestml"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "nmlc build: error:" in proc.stderr and "Traceback" not in proc.stderr


def test_find_toolchain_rejects_nest_without_extension_interface(tmp_path):
    (tmp_path / "node.h").write_text("// old NEST\n")
    (tmp_path / "config.h").write_text('#define NEST_VERSION "3.6.0"\n')
    with pytest.raises(ToolchainError, match=r"3\.6\.0.*3\.10"):
        find_toolchain(nest_include=str(tmp_path))


def test_missing_compiler_is_reported(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/bin/g++")
    with pytest.raises(ToolchainError, match=r"\$CXX"):
        find_toolchain()


def test_fingerprint_is_stable_and_covers_flags(toolchain):
    first = toolchain.fingerprint()
    assert first == find_toolchain().fingerprint()
    assert len(first) == 64 and int(first, 16) >= 0
    other = Toolchain(toolchain.cxx, ("-O1", *REQUIRED_CXXFLAGS), toolchain.include_dirs, toolchain.ldflags)
    assert other.fingerprint() != first


# --------------------------------------------------------------------------- compile_module


@pytest.mark.parametrize(
    ("sources", "module_name", "jobs", "message"),
    [
        ({"a.cpp": ""}, "my-module", 2, "invalid module name"),
        ({"../a.cpp": ""}, "m", 2, "invalid source file name"),
        ({"a.h": ""}, "m", 2, "no translation unit"),
        ({"a.cpp": ""}, "m", 0, "jobs must be a positive integer"),
        ({PCH_HEADER_NAME: "", "a.cpp": ""}, "m", 2, "nmlc provides that header"),
    ],
)
def test_compile_module_rejects_bad_input(tmp_path, toolchain, sources, module_name, jobs, message):
    with pytest.raises(ToolchainError, match=message):
        compile_module(sources, tmp_path / "out", module_name, toolchain, jobs=jobs)
    assert not (tmp_path / "out").exists()


def test_compile_error_carries_stderr_and_leaves_no_module(tmp_path, toolchain):
    out = tmp_path / "out"
    out.mkdir()
    (out / "broken.so").write_text("stale module from earlier sources")
    # Plain C++ (no NEST headers) keeps this test fast; one unit fails, the other compiles.
    sources = {
        "ok.cpp": "int nmlc_ok() { return 1; }\n",
        "bad.cpp": "int nmlc_bad() { return undeclared_symbol_xyz; }\n",
    }
    with pytest.raises(ToolchainError, match="bad.cpp") as info:
        compile_module(sources, out, "broken", toolchain)
    assert "undeclared_symbol_xyz" in info.value.stderr
    assert "undeclared_symbol_xyz" in str(info.value)
    assert not (out / "broken.so").exists()
    assert sorted(p.name for p in out.iterdir()) == ["bad.cpp", "ok.cpp"]  # no build folder left


def test_precompiled_header_is_used(tmp_path, toolchain):
    support = support_include_dir(toolchain)
    assert (support / (PCH_HEADER_NAME + ".gch")).is_file()
    unit = tmp_path / "probe.cpp"
    unit.write_text(f'#include "{PCH_HEADER_NAME}"\ndouble probe(nest::Time t) {{ return t.get_ms(); }}\n')
    cmd = unit_compile_command(toolchain, support, unit, tmp_path / "probe.o")
    proc = subprocess.run(
        [*cmd, "-H", "-fsyntax-only"], check=False, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    # With -H, GCC marks a precompiled header it used with "!" and one it rejected with "x".
    first = proc.stderr.splitlines()[0]
    assert first.startswith("! ") and first.endswith(PCH_HEADER_NAME + ".gch"), proc.stderr[:2000]
    assert "invalid" not in proc.stderr


def test_support_files_are_built_once_by_concurrent_processes(tmp_path, toolchain):
    """Two processes ask for the support folder of the same (fake) compiler: one builds it."""
    log_file = tmp_path / "compiler.log"
    fake = tmp_path / "fake-g++"
    fake.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, time
        args = sys.argv[1:]
        if "--version" in args:
            print("g++ (nmlc fake) 12.2.0\\nCopyright (C) Free Software Foundation, Inc.")
        elif "-dumpmachine" in args:
            print("x86_64-linux-gnu")
        else:
            out = args[args.index("-o") + 1]
            with open({str(log_file)!r}, "a") as log:
                log.write(("pch" if "c++-header" in args else "object") + "\\n")
            time.sleep(1.0)
            open(out, "w").write("fake output")
        """)
    )
    fake.chmod(0o755)
    script = textwrap.dedent(f"""\
        import os, sys, time
        from pathlib import Path
        from nmlc.targets.nest.toolchain import Toolchain, support_include_dir
        ready = Path({str(tmp_path)!r}) / f"ready-{{os.getpid()}}"
        ready.write_text("")
        deadline = time.time() + 60
        while len(list(Path({str(tmp_path)!r}).glob("ready-*"))) < 2 and time.time() < deadline:
            time.sleep(0.01)
        tc = Toolchain({str(fake)!r}, {toolchain.cxxflags!r}, {toolchain.include_dirs!r}, ("-shared",))
        print(support_include_dir(tc))
        """)
    env = _subprocess_env(NMLC_CACHE_DIR=str(tmp_path / "cache"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    folders = {out.strip() for out, _ in outputs}
    assert len(folders) == 1
    assert sorted(log_file.read_text().split()) == ["object", "pch"]
    folder = Path(folders.pop())
    assert (folder / (PCH_HEADER_NAME + ".gch")).read_text() == "fake output"
    assert (folder / "compat" / "ltdl.h").is_file()


# --------------------------------------------------------------------------- the hand-written module


def test_handwritten_module_matches_builtin_iaf_psc_exp(nest_report):
    compare = nest_report["compare"]
    assert compare["parrot_spikes"] > 100  # the Poisson input really reached both neurons
    for name in ("main", "filtered"):
        pair = compare[name]
        assert pair["times_equal"] and pair["n_samples"] >= 9900
        assert pair["max_abs_diff_V_m"] is not None and pair["max_abs_diff_V_m"] <= V_M_TOL_MV, pair
        assert pair["max_abs_diff_I_syn_ex"] <= I_SYN_TOL_PA
        assert pair["max_abs_diff_I_syn_in"] <= I_SYN_TOL_PA
        assert pair["spikes_new"] == pair["spikes_ref"]
        assert len(pair["spikes_ref"]) >= 10
        low, high = pair["V_m_range"]
        assert high - low > 10.0  # the trace was not flat
    # receptor 1 filters the step current, so the two pairs must behave differently
    assert compare["filtered"]["spikes_ref"] != compare["main"]["spikes_ref"]


def test_handwritten_module_status_and_validation(nest_report):
    status = nest_report["status"]
    assert status["default_mismatches"] == []
    assert status["recordables"] == ["I_syn_ex", "I_syn_in", "V_m"]
    assert status["receptor_types"] == {"CURRENT_DIRECT": 0, "CURRENT_FILTERED": 1}
    assert status["error_C_m"].startswith("BadProperty") and "C_m must be > 0" in status["error_C_m"]
    assert "tau_syn_in" in status["error_tau"]
    assert "V_reset must be < V_th" in status["error_V_reset"]
    assert "t_ref must be >= 0" in status["error_t_ref"]
    assert status["C_m_after_rejected_set"] == 250.0
    assert status["C_m_after_int_set"] == 300.0
    assert status["error_spike_receptor_1"].startswith("UnknownReceptorType")
    assert status["error_current_receptor_2"].startswith("UnknownReceptorType")
    assert status["current_receptor_1_ok"] is True
    assert "nonexistent" in status["error_unknown_recordable"]
    assert status["random_V_m_distinct"] is True
    assert "loaded already" in status["second_install"]


def test_handwritten_module_with_two_threads(nest_report):
    threads = nest_report["threads"]
    assert threads["threads"] == 2
    assert threads["n_spikes"] > 10
    assert threads["spikes_equal"] is True


def test_parallel_translation_units_build_a_loadable_module(tmp_path, toolchain, handwritten_sources):
    # Rename the model so this module is clearly a second, independent build.
    module_cpp = handwritten_sources["hw_module.cpp"].replace(
        "#ifndef NMLC_HW_MODEL_NAME",
        '#define NMLC_HW_MODEL_NAME "hw_iaf_psc_exp_two_tu"\n#ifndef NMLC_HW_MODEL_NAME',
    )
    sources = dict(handwritten_sources, **{"hw_module.cpp": module_cpp})
    so_path = compile_module(sources, tmp_path, "hw_two_tu", toolchain, jobs=2)
    assert so_path == tmp_path / "hw_two_tu.so" and so_path.is_file()
    code = textwrap.dedent(f"""\
        import nest
        nest.verbosity = nest.VerbosityLevel.ERROR
        nest.Install({str(so_path)!r})
        n = nest.Create("hw_iaf_psc_exp_two_tu", params={{"I_e": 500.0}})
        sr = nest.Create("spike_recorder")
        nest.Connect(n, sr)
        nest.Simulate(100.0)
        print("SPIKES", sr.n_events)
        """)
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    spikes = int(proc.stdout.strip().splitlines()[-1].split()[1])
    assert spikes > 0


# --------------------------------------------------------------------------- cache


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NMLC_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("NMLC_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "nmlc"


def test_content_hash():
    assert content_hash("a", "b") == content_hash("a", "b")
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash("x") == content_hash(b"x")
    assert len(content_hash()) == 64
    with pytest.raises(TypeError, match="part 1 is int"):
        content_hash("a", 1)  # type: ignore[arg-type]


def test_second_lookup_compiles_nothing(built_module):
    cache, key, so_path = built_module
    assert cache.lookup(key) == so_path

    def must_not_build(folder: Path) -> Path:
        raise AssertionError("the cached module was rebuilt")

    assert cache.build(key, must_not_build) == so_path
    assert ModuleCache(cache.root).lookup(key) == so_path  # a fresh cache object finds it too


def test_failed_build_leaves_nothing(tmp_path):
    cache = ModuleCache(tmp_path / "cache")

    def failing(folder: Path) -> Path:
        (folder / "half.so").write_text("half written")
        raise ToolchainError("compiler exploded")

    with pytest.raises(ToolchainError, match="exploded"):
        cache.build("k1", failing)
    assert cache.lookup("k1") is None
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [".locks"]

    def working(folder: Path) -> Path:
        (folder / "m.so").write_text("module")
        return folder / "m.so"

    built = cache.build("k1", working)
    assert built == tmp_path / "cache" / "k1" / "m.so" and built.read_text() == "module"


def test_cache_rejects_bad_keys_and_foreign_paths(tmp_path):
    cache = ModuleCache(tmp_path)
    for key in ("", "../escape", ".hidden", "a/b", "x" * 200):
        with pytest.raises(ValueError, match="invalid module cache key"):
            cache.lookup(key)
    outside = tmp_path / "elsewhere.so"
    outside.write_text("x")
    with pytest.raises(ValueError, match="not inside its build folder"):
        cache.build("k2", lambda folder: outside)
    assert cache.lookup("k2") is None


def test_two_processes_build_a_key_once(tmp_path):
    root, log_file = tmp_path / "cache", tmp_path / "make.log"
    script = textwrap.dedent(f"""\
        import os, time
        from pathlib import Path
        from nmlc.targets.nest.cache import ModuleCache
        tmp = Path({str(tmp_path)!r})
        (tmp / f"ready-{{os.getpid()}}").write_text("")
        deadline = time.time() + 60
        while len(list(tmp.glob("ready-*"))) < 2 and time.time() < deadline:
            time.sleep(0.01)

        def make(folder):
            with open({str(log_file)!r}, "a") as log:
                log.write(f"{{os.getpid()}}\\n")
            time.sleep(1.0)
            (folder / "mod.so").write_text(str(os.getpid()))
            return folder / "mod.so"

        print(ModuleCache(Path({str(root)!r})).build("shared-key", make))
        """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_subprocess_env(),
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    builders = log_file.read_text().split()
    assert len(builders) == 1
    paths = {out.strip() for out, _ in outputs}
    assert paths == {str(root / "shared-key" / "mod.so")}
    assert (root / "shared-key" / "mod.so").read_text() == builders[0]
