"""The Python target's runtime: vectorised Dormand-Prince against scipy and exact solutions, expm, helpers."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from nmlc.targets.python import runtime as rt


class _S:
    _tics_per_step = 100


def _decay(rates):
    def f(pos, tt, y):
        return -rates[pos] * y
    return f


def test_dopri_matches_exact_decay_within_tolerance():
    rates = np.array([0.5, 2.0, 10.0])
    Y = np.array([[1.0, -3.0, 5.0]])
    h_io, err_old = np.zeros(3), np.full(3, 1e-4)
    for _ in range(10):  # ten steps of 0.1 ms, state and controller carried over like in a simulation
        rt._rt_dopri(_decay(rates), Y, 0.1, h_io, err_old, 1e-8, 1e-8)
    exact = np.array([1.0, -3.0, 5.0]) * np.exp(-rates * 1.0)
    # ten steps, each with a local error controlled to ~1e-8 (atol + rtol |y|)
    assert np.all(np.abs(Y[0] - exact) <= 10 * (1e-8 + 1e-8 * np.abs(exact)))
    assert np.all(h_io > 0.0)


def test_dopri_columns_are_independent_bitwise():
    """A neuron's trajectory must not depend on which other neurons are integrated with it."""
    def f(pos, tt, y):
        v, w = y
        return np.array([v - v**3 / 3.0 - w + 0.5, 0.08 * (v + 0.7 - 0.8 * w)])
    Y = np.array([[-1.0, 0.3, 1.7], [0.5, -0.2, 0.0]])
    together = Y.copy()
    h_io, eo = np.zeros(3), np.full(3, 1e-4)
    for _ in range(50):
        rt._rt_dopri(f, together, 0.5, h_io, eo, 1e-7, 1e-7)
    for k in range(3):
        alone = Y[:, [k]].copy()
        h1, e1 = np.zeros(1), np.full(1, 1e-4)
        for _ in range(50):
            rt._rt_dopri(f, alone, 0.5, h1, e1, 1e-7, 1e-7)
        assert np.array_equal(alone[:, 0], together[:, k])


def test_dopri_against_scipy_on_a_stiff_ish_nonlinear_system():
    def rhs(t, y):
        return [y[1], (1 - y[0] ** 2) * y[1] * 5.0 - y[0]]

    def f(pos, tt, y):
        return np.array([y[1], (1 - y[0] ** 2) * y[1] * 5.0 - y[0]])
    Y = np.array([[2.0], [0.0]])
    h_io, eo = np.zeros(1), np.full(1, 1e-4)
    for _ in range(20):
        rt._rt_dopri(f, Y, 0.25, h_io, eo, 1e-9, 1e-9)
    ref = scipy.integrate.solve_ivp(rhs, (0, 5.0), [2.0, 0.0], method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
    assert np.allclose(Y[:, 0], ref, rtol=1e-6, atol=1e-6)


def test_dopri_events_reset_and_are_seen_after_every_substep():
    """An event that resets a state mid-step (a threshold) is applied at the accepted sub-step."""
    def f(pos, tt, y):
        return np.ones_like(y) * 10.0  # dy/dt = 10: crosses 1.0 within the first 0.1 ms step
    seen = []

    def on_accept(pos, Y):
        hit = Y[0, pos] >= 1.0
        Y[0, pos[hit]] = 0.0
        seen.append(int(hit.sum()))
        return hit
    Y = np.array([[0.5]])
    rt._rt_dopri(f, Y, 0.1, np.array([0.02]), np.full(1, 1e-4), 1e-9, 1e-9, on_accept)
    assert sum(seen) == 1
    assert 0.0 <= Y[0, 0] < 0.5  # reset to 0 and then integrated for the rest of the step


def test_dopri_reports_non_finite_state_clearly():
    def f(pos, tt, y):
        return np.full_like(y, np.nan)
    with pytest.raises(rt.NumericalInstability, match="NaN"):
        rt._rt_dopri(f, np.array([[1.0]]), 0.1, np.zeros(1), np.full(1, 1e-4), 1e-6, 1e-6, name="m")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=9, max_size=9))
def test_expm_matches_scipy(entries):
    A = np.array(entries).reshape(3, 3)
    ref = scipy.linalg.expm(A)
    # normwise relative error: small entries of exp(A) can come from cancellation of large ones
    assert np.max(np.abs(rt._rt_expm(A[None])[0] - ref)) <= 1e-12 * max(1.0, np.max(np.abs(ref)))


def test_expm_of_stack_handles_each_matrix():
    G = np.stack([np.diag([-1.0, -2.0]), np.array([[-1.0, 5.0], [0.0, -0.1]]), np.zeros((2, 2))])
    E = rt._rt_expm(G)
    for k in range(3):
        assert np.allclose(E[k], scipy.linalg.expm(G[k]), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("ms, steps", [(2.0, 20), (0.0, 0), (0.05, 1), (0.1, 1), (0.15, 2), (1.0004, 10), (1.0006, 11)])
def test_steps_follow_nest_rounding(ms, steps):
    assert rt._rt_steps(_S(), slice(None), ms) == steps


def test_put_truncates_integers_and_respects_mask():
    a = np.array([1, 2, 3], dtype=np.int64)
    rt._rt_put(a, np.array([1.9, -1.9, 7.5]), np.array([True, True, False]))
    assert a.tolist() == [1, -1, 3]


def test_fixed_step_rk4_is_fourth_order():
    def f(tt, y):
        return -y
    errs = []
    for h in (0.2, 0.1):
        y = np.array([[1.0]])
        for _ in range(int(round(1.0 / h))):
            y = rt._rt_rk4(f, y, h)
        errs.append(abs(y[0, 0] - np.exp(-1.0)))
    assert 12.0 < errs[0] / errs[1] < 20.0
