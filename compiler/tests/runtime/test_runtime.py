"""Tests of the header-only C++ numeric runtime (nmlc_rt): compiles one driver program with g++ and
compares what it computes with scipy (solve_ivp, linalg.expm) and, for the matrix exponential, with a
50-digit mpmath reference. Figures measured here are attached to the test report via record_property.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

HERE = Path(__file__).resolve().parent
RUNTIME_DIR = HERE.parents[1] / "nmlc" / "targets" / "nest" / "runtime"
DRIVER_SRC = HERE / "rt_driver.cpp"
HEADERS = sorted(RUNTIME_DIR.glob("*.h"))

# The flags generated NEST modules are built with, plus strict warnings: the runtime must stay warning-free.
NEST_FLAGS = ["-std=c++20", "-D_GLIBCXX_USE_CXX11_ABI=0", "-fPIC"]
WARN_FLAGS = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror"]

pytestmark = pytest.mark.skipif(shutil.which("g++") is None,
                                reason="g++ is required to build the C++ runtime tests")


def _build(tag: str, flags: list[str]) -> Path:
    """Compile the driver once per source content, flag set and compiler version; the binary is cached in
    the system temp folder (shared by xdist workers and later runs, never stale thanks to the hash)."""
    from filelock import FileLock

    digest = hashlib.sha256()
    for path in [DRIVER_SRC, *HEADERS]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(" ".join(flags).encode())
    digest.update(subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.encode())
    cache = Path(tempfile.gettempdir()) / f"nmlc_rt_driver_{os.getuid()}"
    cache.mkdir(exist_ok=True)
    exe = cache / f"rt_driver_{tag}_{digest.hexdigest()[:16]}"
    with FileLock(str(exe) + ".lock"):
        if not exe.exists():
            cmd = ["g++", *flags, *WARN_FLAGS, f"-I{RUNTIME_DIR}", str(DRIVER_SRC),
                   "-o", str(exe) + ".tmp", "-pthread"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, f"driver failed to compile:\n{' '.join(cmd)}\n{proc.stderr}"
            os.replace(str(exe) + ".tmp", exe)
    return exe


@pytest.fixture(scope="session")
def driver() -> Path:
    return _build("O2", ["-O2", *NEST_FLAGS])


def run_json(exe: Path, *args: object, stdin: str | None = None) -> dict:
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, input=stdin,
                          timeout=600)
    assert proc.returncode == 0, f"driver {args} failed: {proc.stderr}"
    return json.loads(proc.stdout)


# ----------------------------------------------------------------------------------------------------
# Python twins of the driver's test problems (the C++ side has the same equations).

RATES = np.array([0.5, 2.0, 10.0])
OMEGA = 3.0


def vdp(mu: float):
    return lambda t, y: [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]


def vdp_jac(mu: float):
    return lambda t, y: [[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1, mu * (1 - y[0] ** 2)]]


def robertson(t, y):
    return [-0.04 * y[0] + 1e4 * y[1] * y[2],
            0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
            3e7 * y[1] ** 2]


def robertson_jac(t, y):
    return [[-0.04, 1e4 * y[2], 1e4 * y[1]],
            [0.04, -1e4 * y[2] - 6e7 * y[1], -1e4 * y[1]],
            [0.0, 6e7 * y[1], 0.0]]


def nonauto(t, y):
    return [-y[1] * np.cos(t) + y[0] * np.sin(y[1]), y[0] - 0.3 * y[1] ** 2 + np.sin(t)]


PROBLEMS = {
    "decay": (lambda t, y: -RATES * y, [1.0, -2.0, 3.0]),
    "harmonic": (lambda t, y: [y[1], -OMEGA**2 * y[0]], [1.0, 0.0]),
    "vdp5": (vdp(5.0), [2.0, 0.0]),
    "nonauto": (nonauto, [1.0, 0.5]),
}


@lru_cache(maxsize=None)
def dop853_reference(problem: str, t_end: float) -> tuple[float, ...]:
    f, y0 = PROBLEMS[problem]
    sol = solve_ivp(f, (0.0, t_end), y0, method="DOP853", rtol=1e-12, atol=1e-12)
    assert sol.success
    return tuple(sol.y[:, -1])


@lru_cache(maxsize=None)
def radau_reference(problem: str, t_end: float) -> tuple[float, ...]:
    if problem == "vdp1000":
        sol = solve_ivp(vdp(1000.0), (0.0, t_end), [2.0, 0.0], method="Radau", rtol=1e-10, atol=1e-10,
                        jac=vdp_jac(1000.0))
    else:
        sol = solve_ivp(robertson, (0.0, t_end), [1.0, 0.0, 0.0], method="Radau", rtol=1e-10, atol=1e-14,
                        jac=robertson_jac)
    assert sol.success
    return tuple(sol.y[:, -1])


def record(record_property, name: str, value: object) -> None:
    """Attach a measured figure to the test report as JSON (xdist can only ship plain strings and numbers)."""
    record_property(name, json.dumps(value, default=float))


def fmt(values) -> str:
    """Numbers as the driver reads them (full precision, plain Python float syntax)."""
    return " ".join(repr(float(v)) for v in values)


def mixed_error(y, ref, floor: float = 1.0) -> float:
    """Largest componentwise error relative to max(|ref|, floor)."""
    y, ref = np.asarray(y, float), np.asarray(ref, float)
    return float(np.max(np.abs(y - ref) / np.maximum(np.abs(ref), floor)))


# ----------------------------------------------------------------------------------------------------
# Headers and build properties


@pytest.mark.parametrize("header", [h.name for h in HEADERS])
def test_each_header_compiles_on_its_own(header: str, tmp_path: Path) -> None:
    """Every header includes what it uses and is warning-free under NEST's module flags."""
    src = tmp_path / "one.cpp"
    src.write_text(f'#include "{header}"\n#include "{header}"\nint main() {{ return 0; }}\n')
    proc = subprocess.run(["g++", *NEST_FLAGS, *WARN_FLAGS, "-fsyntax-only", f"-I{RUNTIME_DIR}", str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="session")
def debug_driver() -> Path:
    """Unoptimised build with AddressSanitizer and UBSan: nothing is inlined away, every access is checked."""
    return _build("asan", ["-O0", "-g", "-fsanitize=address,undefined",
                                             "-fno-sanitize-recover=all", *NEST_FLAGS])


def test_runtime_defines_no_mutable_global_data(debug_driver: Path) -> None:
    """Thread safety by construction: no writable data symbol belongs to namespace nmlc_rt."""
    proc = subprocess.run(["nm", "-C", "--defined-only", str(debug_driver)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    writable = [line for line in proc.stdout.splitlines()
                if "nmlc_rt::" in line and len(line.split()) >= 3 and line.split()[1] in set("bBdDgGsSuvV")]
    functions = [line for line in proc.stdout.splitlines() if "nmlc_rt::" in line and " W " in line]
    assert functions, "expected the unoptimised build to contain out-of-line nmlc_rt functions"
    assert writable == []


SANITIZED_RUNS = [
    ("fsal",), ("threads",), ("adaptive", "dopri", "vdp5", "1e-8", "1e-8", "10"),
    ("adaptive", "rodas", "robertson", "1e-6", "1e-10", "1e3"),
    ("adaptive", "rodas", "nonauto", "1e-6", "1e-6", "3"),
    ("fixed", "rk4", "harmonic", "1", "10"), ("fixed", "euler", "decay", "1", "10"),
    ("nonfinite", "dopri", "nan_late"), ("nonfinite", "rodas", "blowup"), ("nonfinite", "dopri", "nan_state"),
]


@pytest.mark.parametrize("args", SANITIZED_RUNS, ids=lambda a: "-".join(a[:3]))
def test_sanitizers_find_nothing(debug_driver: Path, args: tuple[str, ...]) -> None:
    proc = subprocess.run([str(debug_driver), *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "runtime error" not in proc.stderr, proc.stderr


def test_sanitizers_find_nothing_in_expm_and_lu(debug_driver: Path) -> None:
    rng = np.random.default_rng(7)
    lines = []
    for n in (1, 2, 3, 5, 8, 12, 20):
        for scale in (1e-3, 1.0, 50.0):
            a = rng.standard_normal((n, n)) * scale
            lines.append(f"{n} " + fmt(a.ravel()))
        lines.append(f"{n} " + fmt(np.triu(rng.standard_normal((n, n))).ravel()))
    for mode, extra in (("expm", 0), ("lu", 1)):
        text = "\n".join(line + (" 1" * int(line.split()[0]) if extra else "") for line in lines) + "\n"
        proc = subprocess.run([str(debug_driver), mode], capture_output=True, text=True, input=text,
                              timeout=600)
        assert proc.returncode == 0 and "runtime error" not in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------------------------------
# Dopri54


@pytest.mark.parametrize("problem", ["decay", "harmonic", "vdp5"])
def test_dopri_error_scales_with_tolerance(driver: Path, problem: str, record_property) -> None:
    t_end = 10.0
    ref = dop853_reference(problem, t_end)
    tols = [1e-4, 1e-6, 1e-8, 1e-10]
    errors, steps = [], []
    for tol in tols:
        r = run_json(driver, "adaptive", "dopri", problem, tol, tol, t_end)
        assert r["t"] == t_end, "the last step must land exactly on t_end"
        assert r["allocations"] == 0
        assert r["bad_status"] == 0 and r["failures"] == 0 and r["forced"] == 0
        assert r["rejected"] <= 0.25 * r["accepted"] + 10
        # FSAL: six new rhs evaluations per attempt plus a handful at start-up.
        assert r["rhs_evals"] <= 6 * (r["accepted"] + r["rejected"]) + 3
        errors.append(mixed_error(r["y"], ref))
        steps.append(r["accepted"])
    record(record_property, "dopri_errors", dict(zip(tols, errors)))
    record(record_property, "dopri_steps", dict(zip(tols, steps)))
    for tol, err in zip(tols, errors):
        assert err <= 25 * tol, f"global error {err:.2e} too large for tolerance {tol:g}"
    assert errors[-1] < 1e-4 * errors[0], "error must shrink with the tolerance"
    # A fifth-order method needs about tol^(-1/5) steps: 10^(6/5) ~ 16 times more for a 1e6 smaller tolerance.
    growth = steps[-1] / steps[0]
    assert 3 < growth < 40, f"step count grew by {growth:.1f} over six decades of tolerance"


@pytest.mark.parametrize(
    "method,problem,t_end,ns,order",
    [
        ("euler", "nonauto", 1.0, [200, 400, 800], 1),
        ("rk4", "nonauto", 1.0, [10, 20, 40], 4),
        ("dopri", "nonauto", 1.0, [5, 10, 20], 5),
        ("dopri", "vdp5", 0.5, [10, 20, 40], 5),
        ("rodas", "nonauto", 1.0, [20, 40, 80], 3),  # explicit time dependence: the df/dt term
        ("rodas", "vdp5", 0.5, [20, 40, 80], 3),     # autonomous, three-argument Jacobian
    ],
)
def test_fixed_step_convergence_order(driver: Path, method: str, problem: str, t_end: float, ns: list[int],
                                      order: int, record_property) -> None:
    """Halving the step divides the global error by 2^order: checks every tableau coefficient matters."""
    ref = dop853_reference(problem, t_end)
    errs = []
    for n in ns:
        r = run_json(driver, "fixed", method, problem, t_end, n)
        assert r["allocations"] == 0
        errs.append(float(np.max(np.abs(np.asarray(r["y"]) - ref))))
    observed = [math.log2(errs[i] / errs[i + 1]) for i in range(len(errs) - 1)]
    record(record_property, "observed_orders", observed)
    # Upper margin wider than the lower one: at these step sizes Dopri54's sixth-order terms still make the
    # observed order look up to ~5.5-5.8; a wrong coefficient would pull it down to 4 or less.
    assert order - 0.3 < observed[-1] < order + 0.9, f"observed order {observed} for nominal {order}"


@pytest.mark.parametrize("method,problem,t_end,order",
                         [("dopri", "vdp5", 0.5, 5), ("rodas", "nonauto", 1.0, 3)])
def test_embedded_error_estimate_order(driver: Path, method: str, problem: str, t_end: float,
                                       order: int) -> None:
    """The error estimate of one step behaves like h^(order of the lower-order partner + 1)."""
    ests = []
    for n in (16, 32, 64):
        r = run_json(driver, "fixed", method, problem, t_end, n)
        ests.append(float(np.max(np.abs(r["err0"]))))
    observed = math.log2(ests[1] / ests[2])
    assert abs(observed - order) < 0.2, f"error estimate order {observed:.2f}, expected {order}"


@pytest.mark.parametrize("method", ["dopri", "rodas"])
@pytest.mark.parametrize("kind", ["nan_rhs", "nan_late", "blowup", "nan_state"])
def test_nonfinite_values_terminate(driver: Path, method: str, kind: str) -> None:
    """A NaN/inf-producing system neither hangs nor runs away: 20 simulation steps end quickly, flagged."""
    r = run_json(driver, "nonfinite", method, kind)
    assert not r["cap_hit"]
    assert r["calls"] <= 5000 and r["rhs_evals"] <= 50000, r
    assert r["allocations"] == 0
    if kind in ("nan_rhs", "nan_state"):
        assert r["failed_calls"] == r["calls"] == 20, "every simulation step must fail immediately"
        assert r["accepted"] == 0
    if kind == "nan_state":
        assert r["rhs_evals"] == 0
    if kind == "nan_rhs":
        assert r["y"] == [0.0, 0.0], "a failed step leaves the state untouched"
    if kind == "nan_late":
        assert r["failures"] >= 1 and all(map(math.isfinite, r["y"]))
        assert r["y"][0] <= 1.0, "the state must never be advanced past the point where f becomes NaN"
    if kind == "blowup":
        # Dopri reports the overflow; the L-stable Rosenbrock method may step across the pole of 1/(1-t)
        # onto the analytic continuation, but only with steps forced at the minimum size, which it reports.
        assert r["failures"] + r["forced"] >= 1


def test_fsal_cache_reused_and_invalidated(driver: Path) -> None:
    r = run_json(driver, "fsal")
    assert r["min_evals_continuing"] == r["max_evals_continuing"] == 6, "accepted steps reuse the last stage"
    assert r["evals_after_state_change"] == 7, "a changed state forces a fresh first stage"
    assert r["same_after_state_change"], "changed state: result must equal a fresh stepper's"
    assert r["same_after_reset"], "reset(): result must equal a fresh stepper's"
    assert not r["same_without_reset"], "without reset() a changed input is invisible to the cached stage"


def test_concurrent_steppers_match_serial(driver: Path) -> None:
    r = run_json(driver, "threads")
    assert r["identical"] == r["neurons"] == 4
    assert sum(r["spike_counts"]) > 10


# ----------------------------------------------------------------------------------------------------
# AdEx with threshold and reset inside the sub-step loop

ADEX = dict(C_m=281.0, g_L=30.0, E_L=-70.6, Delta_T=2.0, V_T=-50.4, a=4.0, b=80.5, tau_w=144.0, V_reset=-60.0,
            V_peak=0.0, I_e=1000.0)


@lru_cache(maxsize=None)
def adex_reference(t_end: float) -> tuple[tuple[float, ...], tuple[float, float]]:
    """Event-located spikes: DOP853 at 1e-12 to the exact crossing of V_peak, then reset and restart."""
    p = ADEX

    def f(t, y):
        # Unclamped exponential: identical to the driver's model below V_peak, and smooth across it so the
        # event can be located to full precision.
        spike_current = p["g_L"] * p["Delta_T"] * np.exp((y[0] - p["V_T"]) / p["Delta_T"])
        return [(-p["g_L"] * (y[0] - p["E_L"]) + spike_current - y[1] + p["I_e"]) / p["C_m"],
                (p["a"] * (y[0] - p["E_L"]) - y[1]) / p["tau_w"]]

    def peak(t, y):
        return y[0] - p["V_peak"]

    peak.terminal, peak.direction = True, 1
    t, y, spikes = 0.0, [p["E_L"], 0.0], []
    while t < t_end:
        sol = solve_ivp(f, (t, t_end), y, method="DOP853", rtol=1e-12, atol=1e-12, events=peak)
        assert sol.status >= 0, sol.message
        if sol.status == 1:
            t = float(sol.t_events[0][0])
            spikes.append(t)
            y = [p["V_reset"], float(sol.y_events[0][0][1]) + p["b"]]
        else:
            t, y = t_end, list(sol.y[:, -1])
    return tuple(spikes), (float(y[0]), float(y[1]))


def test_adex_spikes_match_event_located_reference(driver: Path, record_property) -> None:
    t_end = 300.0
    ref_spikes, ref_y = adex_reference(t_end)
    assert len(ref_spikes) >= 10
    errors = []
    for tol in (1e-4, 1e-6, 1e-8):
        r = run_json(driver, "adex", tol, 0.1, t_end)
        assert r["allocations"] == 0 and r["failures"] == 0
        assert len(r["spikes"]) == len(ref_spikes), f"spike count differs at tolerance {tol:g}"
        spike_err = float(np.max(np.abs(np.asarray(r["spikes"]) - ref_spikes)))
        errors.append(spike_err)
        record(record_property, f"adex_tol_{tol:g}",
               dict(spike_time_error_ms=spike_err, accepted=r["accepted"], rejected=r["rejected"],
                    forced=r["forced"], substeps_per_sim_step=r["accepted"] / (t_end / 0.1)))
        assert mixed_error(r["y"], ref_y) < 1e3 * tol
        # Sub-steps: the adaptive stepper takes about one sub-step per 0.1 ms simulation step between spikes.
        assert r["accepted"] < 5 * t_end / 0.1
    assert errors[0] < 1e-3, f"spike times off by {errors[0]:.2e} ms at tolerance 1e-4"
    assert errors[0] > errors[1] > errors[2] and errors[2] < errors[0] / 50


# ----------------------------------------------------------------------------------------------------
# Rosenbrock on stiff problems


@pytest.mark.parametrize("problem,t_end,atol_factor,floor", [("vdp1000", 2000.0, 1.0, 1.0),
                                                            ("robertson", 1e5, 1e-4, 1e-6)])
def test_rosenbrock_accurate_on_stiff_problems(driver: Path, problem: str, t_end: float, atol_factor: float,
                                              floor: float, record_property) -> None:
    ref = radau_reference(problem, t_end)
    errors = {}
    for tol in (1e-5, 1e-7):
        r = run_json(driver, "adaptive", "rodas", problem, tol, tol * atol_factor, t_end)
        assert r["t"] == t_end and r["allocations"] == 0
        assert r["failures"] == 0 and r["forced"] == 0
        assert r["jac_evals"] == r["accepted"], "one Jacobian per step, reused by the retries"
        assert r["lu_decomps"] == r["accepted"] + r["rejected"]
        errors[tol] = mixed_error(r["y"], ref, floor)
        record(record_property, f"rodas_{problem}_tol_{tol:g}",
               dict(error=errors[tol], accepted=r["accepted"], rejected=r["rejected"]))
        assert errors[tol] < 50 * tol, f"error {errors[tol]:.2e} at tolerance {tol:g}"
    assert errors[1e-7] < errors[1e-5] / 20


@pytest.mark.parametrize("problem,t_end,atol,floor", [("vdp1000", 2000.0, 1e-6, 1.0),
                                                      ("robertson", 100.0, 1e-10, 1e-6)])
def test_rosenbrock_needs_far_fewer_steps_than_dopri_when_stiff(driver: Path, problem: str, t_end: float,
                                                                atol: float, floor: float,
                                                                record_property) -> None:
    ref = radau_reference(problem, t_end)
    counts, errors = {}, {}
    for method in ("rodas", "dopri"):
        r = run_json(driver, "adaptive", method, problem, 1e-6, atol, t_end)
        counts[method] = r["accepted"] + r["rejected"]
        errors[method] = mixed_error(r["y"], ref, floor)
    record(record_property, "attempted_steps", counts)
    record(record_property, "errors", errors)
    assert counts["rodas"] * 100 < counts["dopri"], counts
    assert errors["rodas"] < 1e-4 and errors["dopri"] < 1e-4


# ----------------------------------------------------------------------------------------------------
# Matrix exponential


def expm_cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(20240601)
    cases = []
    for n in (1, 2, 3, 5, 8, 12):
        for scale in (1e-4, 1e-2, 0.3, 1.0, 5.0, 30.0, 100.0):
            a = rng.standard_normal((n, n))
            cases.append((f"random n={n} norm={scale:g}", a * scale / np.linalg.norm(a, 1)))
    for n in (2, 5, 12):
        for scale in (300.0, 1000.0, 3000.0):  # large norms, shifted so that exp(A) stays representable
            a = rng.standard_normal((n, n))
            a *= scale / np.linalg.norm(a, 1)
            shifted = a - np.eye(n) * np.max(np.linalg.eigvals(a).real)
            cases.append((f"large shifted n={n} norm={scale:g}", shifted))
    for n in (3, 6, 12):
        cases.append((f"nilpotent n={n}", np.triu(rng.standard_normal((n, n)), 1) * 50))
        cases.append((f"jordan block n={n}", -3 * np.eye(n) + np.diag(np.full(n - 1, 10.0), 1)))
        q = rng.standard_normal((n, n))
        jordan = -2 * np.eye(n) + np.diag(np.ones(n - 1), 1)
        cases.append((f"repeated eigenvalue dense n={n}", q @ jordan @ np.linalg.inv(q)))
        s = rng.standard_normal((n, n)) * 20
        cases.append((f"skew n={n}", s - s.T))
        q = rng.standard_normal((n, n))
        cases.append((f"stiff stable n={n}", q @ np.diag(-np.logspace(-3, 3, n)) @ np.linalg.inv(q)))
    for h in (0.1, 1.0, 100.0):  # propagator generators of an alpha-shaped current synapse and a membrane
        cases.append((f"alpha propagator h={h:g}",
                      h * np.array([[-0.5, 0, 0], [1, -0.5, 0], [0, 1 / 250, -0.1]])))
        cases.append((f"alpha propagator equal tau h={h:g}",
                      h * np.array([[-0.5, 0, 0], [1, -0.5, 0], [0, 1 / 250, -0.5]])))
    t = np.triu(rng.standard_normal((8, 8)) * 5, 1) + np.diag(np.linspace(-200, 3, 8))
    cases += [("upper triangular", t), ("lower triangular", t.T.copy()), ("zero", np.zeros((4, 4))),
              ("diagonal", np.diag([-1e4, -1e2, -1.0, 0.0, 3.0])),
              ("n=20 random", rng.standard_normal((20, 20)))]
    return cases


def mp_expm(a: np.ndarray) -> np.ndarray:
    import mpmath

    with mpmath.workdps(50):
        return np.array(mpmath.expm(mpmath.matrix(a.tolist())).tolist(), dtype=float)


def run_expm(exe: Path, mats: list[np.ndarray]) -> list[tuple[int, int, bool, int, np.ndarray]]:
    text = "".join(f"{m.shape[0]} {fmt(m.ravel())}\n" for m in mats)
    proc = subprocess.run([str(exe), "expm"], capture_output=True, text=True, input=text, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = []
    for m, line in zip(mats, proc.stdout.splitlines()):
        parts = line.split()
        vals = np.array([float(v) for v in parts[4:]]).reshape(m.shape)
        out.append((int(parts[0]), int(parts[1]), parts[2] == "1", int(parts[3]), vals))
    assert len(out) == len(mats)
    return out


def test_expm_against_scipy_and_50_digit_reference(driver: Path, record_property) -> None:
    cases = expm_cases()
    results = run_expm(driver, [a for _, a in cases])
    figures = {}
    worst_vs_scipy = 0.0
    for (name, a), (degree, squarings, ok, allocations, e) in zip(cases, results):
        assert ok and allocations == 0, name
        exact = mp_expm(a)
        ref_scipy = scipy.linalg.expm(a)
        scale = max(np.linalg.norm(exact, 1), np.finfo(float).tiny)
        err_ours = np.linalg.norm(e - exact, 1) / scale
        err_scipy = np.linalg.norm(ref_scipy - exact, 1) / scale
        vs_scipy = np.linalg.norm(e - ref_scipy, 1) / scale
        worst_vs_scipy = max(worst_vs_scipy, vs_scipy)
        figures[name] = dict(degree=degree, squarings=squarings, err_vs_exact=err_ours,
                             scipy_err_vs_exact=err_scipy, err_vs_scipy=vs_scipy)
        # 1e-13 relative, unless conditioning forbids it: the relative condition number of exp(A) is at least
        # about ||A||, so no method can beat ~||A||_1 * u in general (u = 2^-53), and scipy's own error shows
        # what the same algorithm in LAPACK arithmetic achieves on this matrix.
        bound = max(1e-13, 2 * err_scipy, 4 * np.linalg.norm(a, 1) * 2.0**-53)
        assert err_ours <= bound, f"{name}: {figures[name]}"
        if "triangular" in name or "propagator" in name or "jordan" in name or name == "diagonal":
            # Structure-exploiting path: every entry, not just the norm, is accurate.
            mask = np.abs(exact) > 1e-300
            entrywise = np.max(np.abs(e - exact)[mask] / np.abs(exact)[mask])
            assert entrywise < 1e-14, f"{name}: entrywise relative error {entrywise:.1e}"
    record(record_property, "expm_figures", figures)
    record(record_property, "expm_worst_vs_scipy", worst_vs_scipy)


def test_expm_degree_selection_and_special_inputs(driver: Path) -> None:
    tiny = np.array([[1e-5, 2e-5], [-1e-5, 3e-5]])
    nilpotent3 = np.array([[0.0, 1e3, 1.0], [0.0, 0.0, 1e3], [0.0, 0.0, 0.0]])
    huge = np.array([[800.0, 1.0], [0.0, 800.0]])  # exp(800) overflows
    with_nan = np.array([[1.0, np.nan], [0.0, 1.0]])
    diag = np.diag([-1e4, 0.5, 700.0])
    res = run_expm(driver, [tiny, nilpotent3, huge, with_nan, diag, np.zeros((3, 3))])
    assert res[0][:2] == (3, 0), "a tiny norm needs only the degree-3 approximant"
    # A^5 = 0 for this nilpotent matrix, so r_3 is exact up to rounding however large the entries are.
    assert res[1][0] == 3 and res[1][1] == 0
    np.testing.assert_allclose(res[1][4], np.eye(3) + nilpotent3 + nilpotent3 @ nilpotent3 / 2, rtol=1e-15)
    assert not res[2][2], "overflow must be reported"
    assert not res[3][2] and np.isnan(res[3][4]).all(), "NaN input must be reported"
    assert res[4][2] and res[4][0] == 0
    np.testing.assert_allclose(np.diag(res[4][4]), np.exp(np.diag(diag)), rtol=4.5e-16)
    np.testing.assert_array_equal(res[5][4], np.eye(3))


# ----------------------------------------------------------------------------------------------------
# LU solver


def test_lu_solve_against_numpy(driver: Path) -> None:
    rng = np.random.default_rng(5)
    systems = []
    for n in (1, 2, 3, 5, 8, 12, 20):
        for _ in range(3):
            systems.append((rng.standard_normal((n, n)), rng.standard_normal(n)))
    systems.append((np.array([[0.0, 2.0], [3.0, 1.0]]), np.array([4.0, 5.0])))  # needs a row swap
    systems.append((np.array([[1e-18, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0])))  # tiny unpivoted pivot
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 1.0]])
    text = "".join(f"{a.shape[0]} {fmt(a.ravel())} {fmt(b)}\n" for a, b in systems)
    text += f"3 {fmt(singular.ravel())} 1 1 1\n"
    proc = subprocess.run([str(driver), "lu"], capture_output=True, text=True, input=text, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(systems) + 1
    for (a, b), line in zip(systems, lines):
        parts = line.split()
        assert parts[0] == "1"
        x = np.array([float(v) for v in parts[1:]])
        expected = np.linalg.solve(a, b)
        assert np.linalg.norm(x - expected) <= 1e-12 * np.linalg.cond(a) * max(np.linalg.norm(expected), 1.0)
    assert lines[-1].split()[0] == "0", "a singular matrix must be reported"
