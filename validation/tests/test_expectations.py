"""Every expectation type, passing and failing, on constructed recordings (no NEST involved)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nmlc_validation.expectations import EvalContext, evaluate_expectation, isi_statistic
from nmlc_validation.simulate import Recording
from nmlc_validation.spec import CaseSpec, ExpectationSpec, RecordSpec
from nmlc_validation.stimuli import variant_id

T = np.round(np.arange(1, 1001) * 0.1, 10)  # 0.1 .. 100 ms


def _case(duration: float = 100.0) -> CaseSpec:
    return CaseSpec("c", 0.1, duration, 1, 1, {}, {}, [], RecordSpec(["V_m"], 0.1, True, True), [])


def _exp(kind: str, **params) -> ExpectationSpec:
    return ExpectationSpec(kind, params, ("cases", "c", "expect", 0, kind), 0)


def _rec(v: np.ndarray | None = None, spikes=(), **kw) -> Recording:
    values = {"V_m": v} if v is not None else {}
    return Recording(T, values, np.asarray(spikes, float), **kw)


def _ctx(model: Recording | dict, refs: dict | None = None, params: dict | None = None,
         errors: dict | None = None) -> EvalContext:
    runs = model if isinstance(model, dict) else {"main": model}
    refs = {k: (v if isinstance(v, dict) else {"main": v}) for k, v in (refs or {}).items()}
    return EvalContext(_case(), runs, refs, errors or {}, params or {}, {"V_m": "mV"})


def _run(exp: ExpectationSpec, ctx: EvalContext):
    return evaluate_expectation(exp, ctx)


BASE = -70.0 + 5.0 * (1 - np.exp(-T / 10.0))


def test_trace_passes_within_tolerance_and_fails_outside_with_location() -> None:
    ref = _rec(BASE)
    close = _rec(BASE + 1e-7)
    ok = _run(_exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1e-6), _ctx(close, {"r": ref}))
    assert ok.passed and ok.error == pytest.approx(1e-7)
    bumped = BASE.copy()
    bumped[500] += 0.3  # t = 50.1 ms
    bad = _run(_exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1e-3), _ctx(_rec(bumped), {"r": ref}))
    assert not bad.passed
    assert bad.t_worst == pytest.approx(50.1)
    assert bad.error == pytest.approx(0.3)
    assert "worst at t = 50.1 ms" in bad.message and "1 of 1000 samples outside" in bad.message
    assert bad.plot is not None and bad.plot.residual is not None


def test_trace_rtol_window_and_spike_mask() -> None:
    ref = _rec(BASE, spikes=[50.0])
    y = BASE * (1 + 1e-4)
    assert _run(_exp("trace", variable="V_m", reference="r", rtol=2e-4, atol=0.0), _ctx(_rec(y), {"r": ref})).passed
    assert not _run(_exp("trace", variable="V_m", reference="r", rtol=5e-5, atol=0.0), _ctx(_rec(y), {"r": ref})).passed
    spiky = BASE.copy()
    spiky[(T > 49.5) & (T < 52.0)] += 10.0  # only around the reference spike at 50 ms
    masked = _exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1e-9, mask_spikes={"before": 0.6, "after": 2.1})
    assert _run(masked, _ctx(_rec(spiky), {"r": ref})).passed
    assert not _run(_exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1e-9), _ctx(_rec(spiky), {"r": ref})).passed
    windowed = _exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1e-9, window=[60.0, 100.0])
    assert _run(windowed, _ctx(_rec(spiky), {"r": ref})).passed


def test_trace_interpolates_a_coarser_reference_and_reports_missing_data() -> None:
    idx = np.r_[0:1000:10, 999]
    coarse = Recording(T[idx], {"V_m": BASE[idx]}, np.empty(0))
    lin = np.interp(T, T[idx], BASE[idx])
    ok = _run(_exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1e-12), _ctx(_rec(lin), {"r": coarse}))
    assert ok.passed
    short = Recording(T[:500], {"V_m": BASE[:500]}, np.empty(0))
    res = _run(_exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1.0), _ctx(_rec(BASE), {"r": short}))
    assert not res.passed and "covers only [0.1, 50] ms" in res.message
    res = _run(_exp("trace", variable="V_m", reference="r", rtol=0.0, atol=1.0),
               _ctx(_rec(BASE), errors={"r": "script crashed"}))
    assert not res.passed and "reference 'r' could not be run: script crashed" in res.message


def test_expression() -> None:
    params = {"E_L": -70.0, "tau": 10.0}
    exp = _exp("expression", variable="V_m", expr="E_L + A*(1 - exp(-t/tau))", constants={"A": 5.0},
               rtol=0.0, atol=1e-9)
    assert _run(exp, _ctx(_rec(BASE), params=params)).passed
    wrong = _exp("expression", variable="V_m", expr="E_L + A*(1 - exp(-t/tau))", constants={"A": 5.1},
                 rtol=0.0, atol=1e-3)
    res = _run(wrong, _ctx(_rec(BASE), params=params))
    assert not res.passed and res.t_worst == pytest.approx(100.0)
    unknown = _run(_exp("expression", variable="V_m", expr="E_L + B", rtol=0.0, atol=1.0), _ctx(_rec(BASE), params=params))
    assert not unknown.passed and "unknown name 'B'" in unknown.message


def test_spike_times_against_reference_and_literal_times() -> None:
    model = _rec(spikes=[10.0, 20.05, 30.0])
    assert _run(_exp("spike_times", reference="r", atol=0.1), _ctx(model, {"r": _rec(spikes=[10.0, 20.0, 30.0])})).passed
    bad = _run(_exp("spike_times", times=[10.0, 20.0, 30.0], atol=0.01), _ctx(model))
    assert not bad.passed and bad.error == pytest.approx(0.05) and bad.t_worst == pytest.approx(20.0)
    count = _run(_exp("spike_times", times=[10.0, 20.05], atol=0.1), _ctx(model))
    assert not count.passed and "model fired 3 spikes, expected 2" in count.message
    assert "spike #3 is at 30 ms in the model and missing in expected" in count.message
    assert _run(_exp("spike_times", times=[10.0], atol=0.0, window=[0.0, 15.0]), _ctx(model)).passed


def test_spike_count_exact_bounds_and_reference() -> None:
    model = _rec(spikes=[10.0, 20.0, 30.0])
    assert _run(_exp("spike_count", equals=3), _ctx(model)).passed
    assert not _run(_exp("spike_count", equals=2), _ctx(model)).passed
    assert _run(_exp("spike_count", min=1, max=3), _ctx(model)).passed
    assert not _run(_exp("spike_count", min=4), _ctx(model)).passed
    assert _run(_exp("spike_count", equals=1, window=[15.0, 25.0]), _ctx(model)).passed
    ref = _rec(spikes=[10.0, 20.0])
    assert _run(_exp("spike_count", reference="r", atol=1), _ctx(model, {"r": ref})).passed
    res = _run(_exp("spike_count", reference="r", atol=0), _ctx(model, {"r": ref}))
    assert not res.passed and "reference 'r' fired 2" in res.message


def test_firing_rate_and_isi() -> None:
    spikes = np.arange(5.0, 100.0, 10.0)  # 10 spikes in 100 ms -> 100 Hz, ISI 10 ms
    model = _rec(spikes=spikes)
    assert _run(_exp("firing_rate", min=99.0, max=101.0), _ctx(model)).passed
    res = _run(_exp("firing_rate", max=50.0), _ctx(model))
    assert not res.passed and "above max 50 by 50" in res.message
    ref = _rec(spikes=spikes[:-1])  # 90 Hz
    assert _run(_exp("firing_rate", reference="r", rtol=0.0, atol=10.0), _ctx(model, {"r": ref})).passed
    assert not _run(_exp("firing_rate", reference="r", rtol=0.05, atol=0.0), _ctx(model, {"r": ref})).passed
    assert _run(_exp("isi", statistic="mean", min=9.999, max=10.001), _ctx(model)).passed
    assert _run(_exp("isi", statistic="cv", max=1e-9), _ctx(model)).passed
    assert not _run(_exp("isi", statistic="max", max=9.0), _ctx(model)).passed
    few = _run(_exp("isi", statistic="mean", min=0.0), _ctx(_rec(spikes=[5.0])))
    assert not few.passed and "needs at least 2 spikes" in few.message
    assert isi_statistic(np.array([0.0, 1.0, 3.0]), "cv") == pytest.approx(np.std([1, 2]) / 1.5)
    assert math.isnan(isi_statistic(np.array([1.0]), "mean"))


def test_resting_potential() -> None:
    v = np.where(T < 50, -70.0, -65.0)
    assert _run(_exp("resting_potential", variable="V_m", window=[0.0, 49.0], min=-70.01, max=-69.99,
                     max_range=1e-9), _ctx(_rec(v))).passed
    res = _run(_exp("resting_potential", variable="V_m", window=[0.0, 100.0], min=-71.0, max=-60.0, max_range=1.0),
               _ctx(_rec(v)))
    assert not res.passed and "not at rest" in res.message
    assert not _run(_exp("resting_potential", variable="V_m", window=[60.0, 100.0], max=-66.0), _ctx(_rec(v))).passed


def test_psp_amplitude_and_time_to_peak() -> None:
    onset = 20.0
    s = np.clip(T - onset, 0, None)
    v = -70.0 + 2.0 * (np.exp(-s / 10.0) - np.exp(-s / 2.0)) * (T >= onset)
    peak_t = math.log(10.0 / 2.0) * (10.0 * 2.0) / (10.0 - 2.0)
    amp = 2.0 * (math.exp(-peak_t / 10.0) - math.exp(-peak_t / 2.0))
    ok = _run(_exp("psp", variable="V_m", onset=onset, window=[10.0, 80.0], amplitude={"min": amp - 0.01, "max": amp + 0.01},
                   time_to_peak={"min": peak_t - 0.1, "max": peak_t + 0.1}), _ctx(_rec(v)))
    assert ok.passed, ok.message
    assert ok.data["amplitude"] == pytest.approx(amp, abs=1e-3)
    late = _run(_exp("psp", variable="V_m", onset=onset, window=[10.0, 80.0], time_to_peak={"max": 2.0}), _ctx(_rec(v)))
    assert not late.passed and "time to peak" in late.message
    ref = _rec(-70.0 + 1.1 * (v + 70.0))
    cmp = _run(_exp("psp", variable="V_m", onset=onset, window=[10.0, 80.0], reference="r", rtol=0.05, atol=0.0),
               _ctx(_rec(v), {"r": ref}))
    assert not cmp.passed and "amplitude differs from reference 'r'" in cmp.message


def _fi_ctx(rates: list[float], ref_rates: list[float] | None = None) -> tuple:
    exp = _exp("fi_curve", port="I", points=[{"current": 100.0, "max": 0.0}, {"current": 500.0, "min": 20.0, "max": 40.0}],
               **({"reference": "r", "rtol": 0.0, "atol": 5.0} if ref_rates else {}))
    def rec(rate):
        return _rec(spikes=np.arange(0.5, 100.0, 1000.0 / rate) if rate else [])
    model = {"main": _rec(), **{variant_id(exp, k): rec(r) for k, r in enumerate(rates)}}
    refs = {"r": {variant_id(exp, k): rec(r) for k, r in enumerate(ref_rates)}} if ref_rates else {}
    return exp, _ctx(model, refs)


def test_fi_curve_bounds_and_reference() -> None:
    assert _run(*_fi_ctx([0.0, 30.0])).passed
    res = _run(*_fi_ctx([0.0, 50.0]))
    assert not res.passed and "I = 500 pA: 50 Hz above max 40" in res.message
    assert _run(*_fi_ctx([0.0, 30.0], [0.0, 30.0])).passed
    off = _run(*_fi_ctx([0.0, 30.0], [0.0, 40.0]))
    assert not off.passed and "30 Hz vs reference 40 Hz" in off.message


def _syn_rec(weights: list[float], times: list[float]) -> Recording:
    return Recording(T, {}, np.empty(0), pre_spikes=np.asarray(times), weight_t=np.asarray(times),
                     weight=np.asarray(weights), initial_weight=1.0, final_weight=weights[-1])


def test_weight_trajectory() -> None:
    m = _syn_rec([1.0, 1.1, 1.2], [10.0, 20.0, 30.0])
    assert _run(_exp("weight_trajectory", reference="r", rtol=0.0, atol=1e-12), _ctx(m, {"r": _syn_rec([1.0, 1.1, 1.2], [10.0, 20.0, 30.0])})).passed
    bad = _run(_exp("weight_trajectory", reference="r", rtol=0.0, atol=1e-3), _ctx(m, {"r": _syn_rec([1.0, 1.1, 1.25], [10.0, 20.0, 30.0])}))
    assert not bad.passed and bad.t_worst == 30.0 and bad.error == pytest.approx(0.05)
    shifted = _run(_exp("weight_trajectory", reference="r", rtol=0.0, atol=1.0), _ctx(m, {"r": _syn_rec([1.0, 1.1, 1.2], [10.0, 21.0, 30.0])}))
    assert not shifted.passed and "update #2" in shifted.message
    fewer = _run(_exp("weight_trajectory", reference="r", rtol=0.0, atol=1.0), _ctx(m, {"r": _syn_rec([1.0, 1.1], [10.0, 20.0])}))
    assert not fewer.passed and "3 weight updates, reference 'r' 2" in fewer.message


def test_stdp_window_sign_size_and_reference() -> None:
    points = [{"dt": -10.0, "sign": "depression"}, {"dt": 10.0, "sign": "potentiation", "min_abs": 0.05}]
    exp = _exp("stdp_window", drive_port="exc", drive_weight=1.0, period=100.0, repeats=1, points=points)

    def rec(dt, final):
        pre = np.array([20.0, 120.0])
        return Recording(T, {}, np.array([20.0 + dt]), pre_spikes=pre, initial_weight=1.0, final_weight=final)

    good = {"main": _rec(), variant_id(exp, 0): rec(-10.0, 0.9), variant_id(exp, 1): rec(10.0, 1.1)}
    res = _run(exp, _ctx(good))
    assert res.passed, res.message
    assert res.data["dt_measured"] == [-10.0, 10.0]
    wrong = {"main": _rec(), variant_id(exp, 0): rec(-10.0, 1.02), variant_id(exp, 1): rec(10.0, 1.01)}
    res = _run(exp, _ctx(wrong))
    assert not res.passed
    assert "expected depression, weight changed by 0.02" in res.message
    assert "below min_abs 0.05" in res.message
    ref_exp = _exp("stdp_window", drive_port="exc", drive_weight=1.0, period=100.0, repeats=1,
                   points=[{"dt": -10.0}, {"dt": 10.0}], reference="r", rtol=0.0, atol=0.01)
    refs = {"r": {variant_id(ref_exp, 0): rec(-10.0, 0.9), variant_id(ref_exp, 1): rec(10.0, 1.2)}}
    res = _run(ref_exp, _ctx(good, refs))
    assert not res.passed and "change 0.1 vs reference 0.2" in res.message
