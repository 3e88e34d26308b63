"""Runtime of generated Python modules: helpers and vectorised ODE solvers, NumPy only.

The text of this file is copied into every generated module (so a module needs nothing but NumPy);
it is also importable on its own, which is how the tests exercise it. Everything works on arrays
over neurons: a model with ``n`` neurons keeps each variable as an array of length ``n``.

The adaptive Dormand-Prince solver repeats, neuron by neuron, the arithmetic and the step-size
control of the NEST target's C++ runtime (``nmlc_rt_dopri54.h``: same tableau, PI controller,
initial step heuristic, minimum step and error norm), so both targets take the same sub-steps
and sub-step events happen at the same times; only libm differences (last-bit) remain. The
implicit solver does the same for the C++ RODAS3 (``nmlc_rt_rosenbrock.h``, ``nmlc_rt_dense.h``).
Vector variables are 2-D arrays (neurons x capacity) with a length per neuron.
"""
import math as _math

import numpy as _np

_DBL_EPS = 2.220446049250313e-16
_DBL_MIN = 2.2250738585072014e-308
_MS_PER_TIC = 1.0 / 1000.0  # NEST's default time base: 1000 tics per ms


class NumericalInstability(ArithmeticError):
    """An adaptive solver met NaN/inf at its minimum step (NEST raises NumericalInstability)."""

    nmlc_runtime_error = True  # the simulator reports errors carrying this mark as model errors


class ModelError(RuntimeError):
    """A run-time error of the model itself (a vector index out of range): a user error, not a bug."""

    nmlc_runtime_error = True


def _rt_full(value, n, dtype):
    """A fresh array of length ``n`` holding ``value`` (a scalar or an array of length ``n``)."""
    # filled by assignment, which broadcasts in C (numpy.broadcast_to costs more than a small model's step)
    if dtype is int:
        out = _np.empty(n, dtype=_np.int64)
        out[...] = _np.trunc(value)  # C++ static_cast<long>: truncation toward zero
        return out
    if dtype is bool:
        out = _np.empty(n, dtype=bool)
        out[...] = value
        return out
    if dtype is object:
        return _np.array([value] * n if _np.ndim(value) == 0 else list(value), dtype=object)
    out = _np.empty(n)
    out[...] = value
    return out


def _rt_put(target, value, mask):
    """``target[mask] = value[mask]`` in place; integer targets truncate as C++ assignment does."""
    if target.dtype == _np.int64:
        value = _np.trunc(value)
    _np.copyto(target, value, where=mask, casting="unsafe")


def _rt_steps(_s, _i, ms):
    """NEST's ``Time(Time::ms(x)).get_steps()``: round to tics, then up to whole steps."""
    ms = _np.asarray(ms, dtype=float)
    tics = _np.trunc(ms * 1000.0 + 0.5)
    tps = _s._tics_per_step
    return _np.floor((tics + (tps - 1)) / tps)


def _rt_long(_s, _i, x):
    """C++ static_cast<long>: truncation toward zero (the value stays a float array)."""
    return _np.trunc(x)


def _rt_erf(x):
    return _np.vectorize(_math.erf, otypes=[float])(x)


def _rt_erfc(x):
    return _np.vectorize(_math.erfc, otypes=[float])(x)


def _rt_gamma(x):
    return _np.vectorize(_math.gamma, otypes=[float])(x)


def _rt_size(_s, _i):
    return _s._n if isinstance(_i, slice) else len(_i)


def _rt_rng(_s):
    # created on first use: importing numpy.random costs start-up time a deterministic model never needs
    if _s._rng is None:
        _s._rng = _np.random.default_rng(_s._seed)
    return _s._rng


def _rt_random_normal(_s, _i, mean, sd):
    return _rt_rng(_s).normal(0.0, 1.0, _rt_size(_s, _i)) * sd + mean


def _rt_random_uniform(_s, _i, low, high):
    return low + (high - low) * _rt_rng(_s).random(_rt_size(_s, _i))


def _rt_random_poisson(_s, _i, mean):
    return _rt_rng(_s).poisson(_np.maximum(mean, 0.0), _rt_size(_s, _i)).astype(float)


# ------------------------------------------------------------------------------------- vectors
# A vector variable of n neurons is a 2-D array (n, capacity) plus each neuron's length (an integer
# array): neurons may hold vectors of different sizes (a size parameter set per neuron).
def _rt_vfull(value, size, n, dtype):
    """Vectors of ``n`` neurons, each ``size`` (per neuron) copies of ``value``: (array, lengths)."""
    sizes = _np.trunc(_np.broadcast_to(_np.asarray(size, dtype=float), (n,)))
    if not _np.isfinite(sizes).all() or (sizes < 0).any():
        raise ValueError(f"a vector size must be a non-negative integer, got {size!r}")
    sizes = sizes.astype(_np.int64)
    cap = int(sizes.max()) if n else 0
    col = _rt_full(value, n, dtype)
    return _np.repeat(col[:, None], cap, axis=1), sizes


def _rt_vfill(dtype):
    # what an out-of-range read yields: only ever seen by neurons outside the statement's mask
    return _np.nan if dtype.kind == "f" else (False if dtype.kind == "b" else 0)


def _rt_vget(A, L, k):
    """Element ``k`` (per row) of the vectors ``A`` with lengths ``L``.

    Every neuron evaluates an expression, also those a condition masks out (``i < n and x[i] > 0``),
    so an index out of range is not an error here: it reads NaN (0, False) and only a store checks.
    """
    m = A.shape[0]
    kf = _rt_full(k, m, float)
    ok = _np.isfinite(kf)
    ki = _np.where(ok, _np.trunc(kf), -1.0).astype(_np.int64)
    ok = (ki >= 0) & (ki < L)
    if A.shape[1] == 0:
        return _np.full(m, _rt_vfill(A.dtype), dtype=A.dtype)
    out = A[_np.arange(m), _np.where(ok, ki, 0)]
    if not ok.all():
        fill = _rt_vfill(A.dtype)
        out = _np.where(ok, out, fill)
    return out


def _rt_vput(A, L, k, value, mask, name):
    """``A[r, k[r]] = value[r]`` for the rows ``r`` in ``mask``; an index out of range is a ModelError."""
    m = A.shape[0]
    rows = _np.nonzero(_rt_full(mask, m, bool))[0]
    if rows.size == 0:
        return
    kf = _rt_full(k, m, float)[rows]
    bad = ~_np.isfinite(kf)
    ki = _np.where(bad, 0.0, _np.trunc(kf)).astype(_np.int64)
    bad |= (ki < 0) | (ki >= L[rows])
    if bad.any():
        j = int(_np.argmax(bad))
        raise ModelError(f"{name}: index {kf[j]:g} is out of range (the vector has {int(L[rows[j]])} elements)")
    v = _rt_full(value, m, object if A.dtype == object else (int if A.dtype == _np.int64 else
                                                            (bool if A.dtype == bool else float)))[rows]
    A[rows, ki] = v


def _rt_vset(A, L, value, rows, dtype, name):
    """Store user vectors into the rows ``rows``: one sequence for all, or one sequence per row.

    Returns the (possibly widened) array and the new lengths."""
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        items = list(value)
    except TypeError:
        raise ValueError(f"{name} is a vector: give a list of values (or one list per neuron)") from None
    per_row = len(items) == len(rows) and len(rows) > 0 and all(_np.ndim(x) == 1 for x in items)
    vecs = [_np.asarray(x) for x in items] if per_row else [_np.asarray(items)] * len(rows)
    for v in vecs:
        if v.ndim != 1:
            raise ValueError(f"{name} is a vector: give a list of numbers (or one list per neuron)")
    cap = max([A.shape[1]] + [v.size for v in vecs])
    if cap > A.shape[1]:
        wider = _np.zeros((A.shape[0], cap), dtype=A.dtype)
        wider[:, :A.shape[1]] = A
        A = wider
    else:
        A = A.copy()
    L = L.copy()
    for r, v in zip(rows, vecs):
        try:
            vals = _rt_full(v, v.size, dtype) if v.size else _np.zeros(0, dtype=A.dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot set {name}: {exc}") from None
        A[r, :v.size] = vals
        A[r, v.size:] = 0
        L[r] = v.size
    return A, L


def _rt_vrows(A, L):
    """The vectors of all rows as an object array of 1-D arrays (their lengths may differ)."""
    out = _np.empty(A.shape[0], dtype=object)
    for r in range(A.shape[0]):
        out[r] = A[r, :L[r]].copy()
    return out


def _rt_snapshot(_s, mask, quantity):
    """Record the requested quantities of the neurons in ``mask`` (they emit a spike now)."""
    m = _rt_full(mask, _s._n, bool)
    for name, values in _s._snap_values.items():
        _np.copyto(values, quantity(_s, name), where=m)


def _rt_print(mask, *parts):
    for k in _np.nonzero(mask)[0]:
        print("".join(str(p[k] if _np.ndim(p) else p) for p in parts), end="")


# ----------------------------------------------------------------------------------------- expm
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0,
           960960.0, 16380.0, 182.0, 1.0)


def _rt_expm1_matrix(A):
    """exp(A) of one small dense matrix: scaling and squaring with the degree-13 Pade approximant
    (Higham 2005). Propagators of a model without a closed form come from here once per change."""
    n = A.shape[0]
    norm = _np.abs(A).sum(axis=0).max()
    if not _np.isfinite(norm):
        return _np.full((n, n), _np.nan)
    if norm == 0.0:
        return _np.eye(n)
    s = max(0, int(_math.ceil(_math.log2(norm / 5.371920351148152)))) if norm > 5.371920351148152 else 0
    A = A / (2.0 ** s)
    b = _PADE13
    ident = _np.eye(n)
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A2 @ A4
    U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * ident)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * ident
    E = _np.linalg.solve(V - U, V + U)
    for _ in range(s):
        E = E @ E
    return E


def _rt_expm(G):
    """exp of each matrix of a stack ``G`` (k, n, n); identical matrices are computed once."""
    out = _np.empty_like(G)
    flat = G.reshape(G.shape[0], -1)
    uniq, inverse = _np.unique(flat, axis=0, return_inverse=True)
    for u in range(uniq.shape[0]):
        out[_np.ravel(inverse) == u] = _rt_expm1_matrix(uniq[u].reshape(G.shape[1:]))
    return out


# ----------------------------------------------------------------------------- fixed-step solvers
def _rt_euler(f, Y, h):
    """One forward Euler step of size ``h`` for all columns of ``Y`` (states x neurons)."""
    k = f(0.0, Y)
    return Y + h * k


def _rt_rk4(f, Y, h):
    """One classic Runge-Kutta step (same arithmetic as the C++ runtime's Rk4)."""
    hh = 0.5 * h
    k1 = f(0.0, Y)
    k2 = f(hh, Y + hh * k1)
    k3 = f(hh, Y + hh * k2)
    k4 = f(h, Y + h * k3)
    h6 = h / 6.0
    return Y + h6 * (k1 + 2.0 * (k2 + k3) + k4)


# ------------------------------------------------------------------------------- Dormand-Prince
_C2, _C3, _C4, _C5 = 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0
_A21 = 1.0 / 5.0
_A31, _A32 = 3.0 / 40.0, 9.0 / 40.0
_A41, _A42, _A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
_A51, _A52, _A53, _A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
_A61, _A62, _A63, _A64, _A65 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0
_B1, _B3, _B4, _B5, _B6 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
_E1, _E3, _E4, _E5, _E6, _E7 = (71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0,
                                22.0 / 525.0, -1.0 / 40.0)
_BETA = 0.04
_ALPHA = 0.2 - 0.75 * _BETA
_SAFETY, _FAC_MIN, _FAC_MAX, _H_MIN = 0.9, 0.2, 10.0, 1e-12


def _rt_rows_sum_sq(Q):
    # sum over state rows in index order, as the C++ loop adds them
    s = 0.0 + Q[0] * Q[0]
    for r in range(1, Q.shape[0]):
        s = s + Q[r] * Q[r]
    return s


def _rt_error_norm(err, y0, y1, atol, rtol):
    sc = atol + rtol * _np.maximum(_np.abs(y0), _np.abs(y1))
    sc = _np.maximum(sc, _DBL_MIN)
    return _np.sqrt(_rt_rows_sum_sq(err / sc) / float(err.shape[0]))


def _rt_scaled_rms(v, y, atol, rtol):
    sc = atol + rtol * _np.abs(y)
    sc = _np.maximum(sc, _DBL_MIN)
    return _np.sqrt(_rt_rows_sum_sq(v / sc) / float(v.shape[0]))


def _rt_initial_step(f, pos, t, span, y, f0, atol, rtol, order):
    """Hairer-Norsett-Wanner starting step, per column (the C++ runtime's initial_step)."""
    d0 = _rt_scaled_rms(y, y, atol, rtol)
    d1 = _rt_scaled_rms(f0, y, atol, rtol)
    with _np.errstate(divide="ignore", invalid="ignore"):
        h0 = _np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    h0 = _np.minimum(h0, span)
    y1 = y + h0 * f0
    f1 = f(pos, t + h0, y1) - f0
    d2 = _rt_scaled_rms(f1, y, atol, rtol) / h0
    dmax = _np.maximum(d1, d2)
    with _np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h1 = _np.where(dmax <= 1e-15, _np.maximum(1e-6, h0 * 1e-3), _np.power(0.01 / dmax, 1.0 / (order + 1)))
    h = _np.minimum(100.0 * h0, h1)
    h = _np.where(_np.isfinite(h) & (h > 0.0), h, h0)
    return _np.minimum(h, span)


def _rt_finite_cols(a):
    return _np.isfinite(a).all(axis=0)


class _RtSteps:
    """What an adaptive stepper keeps per column (neuron) over one simulation step [0, T], the same for
    Dormand-Prince and RODAS3: time reached, step to try, smallest step, whether the last attempt was
    rejected, whether a new call starts (and the tolerances)."""

    __slots__ = ("T", "t", "h", "hmin", "rej", "call", "atol", "rtol")

    def __init__(self, k, T, atol, rtol):
        self.T = T
        self.t = _np.zeros(k)
        self.h = _np.zeros(k)
        self.hmin = _np.zeros(k)
        self.rej = _np.zeros(k, dtype=bool)
        self.call = _np.ones(k, dtype=bool)
        self.atol = _np.broadcast_to(_np.asarray(atol, dtype=float), (k,))
        self.rtol = _np.broadcast_to(_np.asarray(rtol, dtype=float), (k,))

    def begin(self, f, c, Y, f0, h_io, order):
        """A call starts for the columns ``c``: their smallest step and first trial step (the step suggested
        by the last call when there is one, else the initial-step heuristic of an ``order`` method)."""
        t, T = self.t, self.T
        self.hmin[c] = _np.maximum(_np.maximum(_H_MIN, 64.0 * _DBL_EPS * _np.maximum(_np.abs(t[c]), abs(T))),
                                   _DBL_MIN)
        hc = h_io[c].copy()
        init = ~((hc > 0.0) & _np.isfinite(hc))
        if init.any():
            ci = c[init]
            hc[init] = _rt_initial_step(f, ci, t[ci], T - t[ci], Y[:, ci], f0[:, ci], self.atol[ci], self.rtol[ci],
                                        order)
        self.h[c] = _np.maximum(hc, self.hmin[c])
        self.rej[c] = False
        self.call[c] = False

    def trial(self, act):
        """(step to try, whether it ends the interval, step the controller asked for) of the columns ``act``."""
        span = self.T - self.t[act]
        ha = self.h[act]
        last = ha * 1.01 >= span
        return _np.where(last, span, ha), last, ha

    def error(self, act, errv, y, y1, finite):
        """The error norm of the attempted steps of ``act`` (infinite where the attempt is not finite)."""
        return _np.where(finite, _rt_error_norm(_np.where(finite, errv, 0.0), y, _np.where(finite, y1, 0.0),
                                                self.atol[act], self.rtol[act]), _np.inf)

    def retry_nonfinite(self, act, finite, htry, message):
        """Columns whose attempt is not finite retry with a smaller step (an error at the smallest step).
        Returns the smallest steps of ``act``."""
        hmin_a = self.hmin[act]
        bad = ~finite
        if bad.any():
            if (htry[bad] <= hmin_a[bad]).any():
                raise NumericalInstability(message)
            b = act[bad]
            self.h[b] = _np.maximum(htry[bad] * _FAC_MIN, hmin_a[bad])
            self.rej[b] = True
        return hmin_a

    def accepted(self, a, acc, ht, h_new, last, ha, ta):
        """Columns ``a`` (``acc`` of the attempt) accepted their steps ``ht``: their time advances (to T
        exactly at the end) and the step suggested for the next one is returned. After a rejection the
        step may not grow; a step shortened only to end the interval does not shrink the suggestion."""
        h_new = _np.where(self.rej[a], _np.minimum(h_new, ht), h_new)
        la = last[acc]
        keep = la & (ht < ha[acc]) & (h_new >= ht)
        self.t[a] = _np.where(la, self.T, ta[acc] + ht)
        self.call[a] = True
        return _np.where(keep, _np.maximum(h_new, ha[acc]), h_new)

    def rejected(self, r, h_new, hmin_r):
        """Columns ``r`` rejected their steps and retry with ``h_new`` (at least the smallest step)."""
        self.h[r] = _np.maximum(h_new, hmin_r)
        self.rej[r] = True


def _rt_dopri(f, Y, T, h_io, err_old, atol, rtol, on_accept=None, name="model", finish=None, finish_below=0):
    """Integrate every column of ``Y`` (states x neurons) from 0 to ``T`` with adaptive Dormand-Prince.

    ``f(pos, tt, y)`` returns dy/dt for the columns ``pos`` at step-relative times ``tt``.
    ``h_io`` and ``err_old`` (one entry per column) carry each neuron's suggested step and its
    controller memory from one simulation step to the next and are updated in place. After every
    accepted sub-step ``on_accept(pos, Y)`` may apply events; it returns the columns it changed
    (their cached last stage is then recomputed, as the C++ stepper's ``reset()`` does).

    A few neurons that need many more sub-steps than the rest (one near a spike) would keep the whole
    array loop going: once at most ``finish_below`` columns remain, all between two steps,
    ``finish(pos, t, k1)`` completes each of them on its own (same arithmetic, on floats).
    """
    ns, k = Y.shape
    st = _RtSteps(k, T, atol, rtol)
    t, call = st.t, st.call
    fsal = _np.zeros(k, dtype=bool)
    k1 = _np.empty((ns, k))
    while True:
        act = _np.nonzero(t < T)[0]
        if act.size == 0:
            return
        if finish is not None and act.size <= finish_below and call[act].all():
            for p in act.tolist():
                finish(p, float(t[p]), list(k1[:, p]) if fsal[p] else None)
            return
        c = act[call[act]]
        if c.size:
            if not _rt_finite_cols(Y[:, c]).all():
                raise NumericalInstability(f"{name}: the state became NaN or infinite")
            need = c[~fsal[c]]
            if need.size:
                k1[:, need] = f(need, t[need], Y[:, need])
                if not _rt_finite_cols(k1[:, need]).all():
                    raise NumericalInstability(f"{name}: the right-hand side is NaN or infinite")
            st.begin(f, c, Y, k1, h_io, 5)
        htry, last, ha = st.trial(act)
        ta = t[act]
        y = Y[:, act]
        kk1 = k1[:, act]
        tmp = y + htry * (_A21 * kk1)
        k2 = f(act, ta + _C2 * htry, tmp)
        tmp = y + htry * (_A31 * kk1 + _A32 * k2)
        k3 = f(act, ta + _C3 * htry, tmp)
        tmp = y + htry * (_A41 * kk1 + _A42 * k2 + _A43 * k3)
        k4 = f(act, ta + _C4 * htry, tmp)
        tmp = y + htry * (_A51 * kk1 + _A52 * k2 + _A53 * k3 + _A54 * k4)
        k5 = f(act, ta + _C5 * htry, tmp)
        tmp = y + htry * (_A61 * kk1 + _A62 * k2 + _A63 * k3 + _A64 * k4 + _A65 * k5)
        k6 = f(act, ta + htry, tmp)
        y1 = y + htry * (_B1 * kk1 + _B3 * k3 + _B4 * k4 + _B5 * k5 + _B6 * k6)
        k7 = f(act, ta + htry, y1)
        errv = htry * (_E1 * kk1 + _E3 * k3 + _E4 * k4 + _E5 * k5 + _E6 * k6 + _E7 * k7)
        finite = _rt_finite_cols(y1) & _rt_finite_cols(errv)
        with _np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            err = st.error(act, errv, y, y1, finite)
            fac_err = _np.power(err, _ALPHA)
        hmin_a = st.retry_nonfinite(act, finite, htry, f"{name}: NaN or infinite values at the minimum step size")
        acc = finite & ((err <= 1.0) | (htry <= hmin_a))
        if acc.any():
            a = act[acc]
            ht = htry[acc]
            fac = fac_err[acc] / _np.power(err_old[a], _BETA) / _SAFETY
            fac = _np.clip(fac, 1.0 / _FAC_MAX, 1.0 / _FAC_MIN)
            h_io[a] = st.accepted(a, acc, ht, ht / fac, last, ha, ta)
            err_old[a] = _np.maximum(err[acc], 1e-4)
            Y[:, a] = y1[:, acc]
            k1[:, a] = k7[:, acc]
            fsal[a] = True
            if on_accept is not None:
                changed = on_accept(a, Y)
                if changed is not None and _np.any(changed):
                    fsal[a[changed]] = False
        rj = finite & ~acc
        if rj.any():
            st.rejected(act[rj], htry[rj] / _np.minimum(1.0 / _FAC_MIN, fac_err[rj] / _SAFETY), hmin_a[rj])


# ------------------------------------------------------------------------- Rosenbrock (RODAS3)
# The implicit method of the C++ runtime (nmlc_rt_rosenbrock.h): RODAS3 in the transformed form, one
# analytic Jacobian and one LU factorisation of (I/(h gamma) - J) per attempted step, the embedded
# order-2 solution as error estimate, a plain (not PI) controller with exponent 1/3. Same coefficients,
# same operation order, same LU with partial pivoting (nmlc_rt_dense.h), per neuron (the last axis).
_RO_GAMMA = 0.5
_RO_C21 = 4.0
_RO_A31, _RO_A41, _RO_A43 = 2.0, 2.0, 1.0
_RO_C31, _RO_C32 = 1.0, -1.0
_RO_C41, _RO_C42, _RO_C43 = 1.0, -1.0, -8.0 / 3.0
_RO_M1, _RO_M3, _RO_M4 = 2.0, 1.0, 1.0


def _rt_lu_factor(A):
    """In-place LU with partial pivoting of every matrix ``A[:, :, c]`` (states x states x neurons).

    Returns the pivot rows (states x neurons) and which columns factorised (a zero or non-finite pivot
    fails, as lu_factor in the C++ runtime)."""
    n, _, m = A.shape
    cols = _np.arange(m)
    piv = _np.zeros((n, m), dtype=_np.int64)
    ok = _np.ones(m, dtype=bool)
    for k in range(n):
        mag = _np.abs(A[k:, k, :])
        # the first row of largest magnitude, as the C++ loop's strict `>` picks it (NaN never wins there)
        p = _np.argmax(_np.where(_np.isnan(mag), -1.0, mag), axis=0) + k
        pmax = mag[p - k, cols]
        piv[k] = p
        ok &= (pmax > 0.0) & _np.isfinite(pmax)
        swap = p != k
        if swap.any():
            sc = cols[swap]
            row_k = A[k, :, sc].copy()
            A[k, :, sc] = A[p[swap], :, sc]
            A[p[swap], :, sc] = row_k
        with _np.errstate(divide="ignore", invalid="ignore"):  # a failed column is dropped by `ok`
            inv_pivot = 1.0 / A[k, k, :]
        for i in range(k + 1, n):
            with _np.errstate(invalid="ignore", over="ignore"):
                lk = A[i, k, :] * inv_pivot
                A[i, k, :] = lk
                for j in range(k + 1, n):
                    A[i, j, :] = A[i, j, :] - lk * A[k, j, :]
    return piv, ok


def _rt_lu_solve(LU, piv, b):
    """Solve with the output of :func:`_rt_lu_factor`; ``b`` (states x neurons) is overwritten."""
    n, m = b.shape
    cols = _np.arange(m)
    for k in range(n):
        p = piv[k]
        swap = p != k
        if swap.any():
            sc = cols[swap]
            tmp = b[k, sc].copy()
            b[k, sc] = b[p[swap], sc]
            b[p[swap], sc] = tmp
    for i in range(1, n):
        acc = b[i].copy()
        for j in range(i):
            acc = acc - LU[i, j] * b[j]
        b[i] = acc
    for ii in range(n - 1, -1, -1):
        acc = b[ii].copy()
        for j in range(ii + 1, n):
            acc = acc - LU[ii, j] * b[j]
        b[ii] = acc / LU[ii, ii]
    return b


def _rt_rodas(f, jac, Y, T, h_io, atol, rtol, on_accept=None, name="model"):
    """Integrate every column of ``Y`` (states x neurons) from 0 to ``T`` with adaptive RODAS3.

    ``f(pos, tt, y)`` as for :func:`_rt_dopri`; ``jac(pos, tt, y)`` returns d f / d y (states x states x
    columns). ``h_io`` carries each neuron's suggested step between calls (updated in place);
    ``on_accept(pos, Y)`` applies sub-step events after every accepted step (the next step re-evaluates
    f and the Jacobian anyway, so what it changed needs no bookkeeping)."""
    ns, k = Y.shape
    st = _RtSteps(k, T, atol, rtol)
    t, call = st.t, st.call
    f0 = _np.zeros((ns, k))
    J = _np.zeros((ns, ns, k))
    while True:
        act = _np.nonzero(t < T)[0]
        if act.size == 0:
            return
        c = act[call[act]]
        if c.size:
            if not _rt_finite_cols(Y[:, c]).all():
                raise NumericalInstability(f"{name}: the state became NaN or infinite")
            f0[:, c] = f(c, t[c], Y[:, c])
            J[:, :, c] = jac(c, t[c], Y[:, c])
            if not (_rt_finite_cols(f0[:, c]).all() and _np.isfinite(J[:, :, c]).all()):
                raise NumericalInstability(f"{name}: the right-hand side or its Jacobian is NaN or infinite")
            st.begin(f, c, Y, f0, h_io, 3)
        htry, last, ha = st.trial(act)
        ta = t[act]
        y = Y[:, act]
        fa = f0[:, act]
        lu = -J[:, :, act]
        d = 1.0 / (htry * _RO_GAMMA)
        for i in range(ns):
            lu[i, i] = lu[i, i] + d
        piv, finite = _rt_lu_factor(lu)
        ih = 1.0 / htry
        u1 = _rt_lu_solve(lu, piv, fa.copy())
        u2 = _rt_lu_solve(lu, piv, fa + (_RO_C21 * ih) * u1)
        fi = f(act, ta + htry, y + _RO_A31 * u1)
        u3 = _rt_lu_solve(lu, piv, fi + ih * (_RO_C31 * u1 + _RO_C32 * u2))
        fi = f(act, ta + htry, y + _RO_A41 * u1 + _RO_A43 * u3)
        u4 = _rt_lu_solve(lu, piv, fi + ih * (_RO_C41 * u1 + _RO_C42 * u2 + _RO_C43 * u3))
        y1 = y + _RO_M1 * u1 + _RO_M3 * u3 + _RO_M4 * u4
        errv = u4
        finite &= _rt_finite_cols(y1) & _rt_finite_cols(errv)
        with _np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            err = st.error(act, errv, y, y1, finite)
            fac = _np.clip(_SAFETY * _np.power(err, -1.0 / 3.0), _FAC_MIN, _FAC_MAX)
        hmin_a = st.retry_nonfinite(act, finite, htry, f"{name}: NaN, infinite values or a singular implicit "
                                    "system at the minimum step size")
        acc = finite & ((err <= 1.0) | (htry <= hmin_a))
        if acc.any():
            a = act[acc]
            ht = htry[acc]
            h_io[a] = st.accepted(a, acc, ht, ht * fac[acc], last, ha, ta)
            Y[:, a] = y1[:, acc]
            if on_accept is not None:
                on_accept(a, Y)
        rj = finite & ~acc
        if rj.any():
            st.rejected(act[rj], htry[rj] * fac[rj], hmin_a[rj])


# ------------------------------------------------------------------ scalar path (one neuron at a time)
def _rt_safe(func, overflow=_math.inf):
    def wrapped(*args):
        try:
            return func(*args)
        except OverflowError:
            return overflow
        except ValueError:
            return _math.nan
    return wrapped


_rt_sexp = _rt_safe(_math.exp)
_rt_sexpm1 = _rt_safe(_math.expm1)
_rt_sexp2 = _rt_safe(lambda x: 2.0 ** x)
_rt_slog = _rt_safe(lambda x: _math.log(x) if x != 0.0 else -_math.inf)
_rt_slog10 = _rt_safe(lambda x: _math.log10(x) if x != 0.0 else -_math.inf)
_rt_slog2 = _rt_safe(lambda x: _math.log2(x) if x != 0.0 else -_math.inf)
_rt_slog1p = _rt_safe(lambda x: _math.log1p(x) if x != -1.0 else -_math.inf)
_rt_ssqrt = _rt_safe(_math.sqrt)
_rt_spow = _rt_safe(_math.pow)
_rt_ssinh = _rt_safe(_math.sinh)
_rt_scosh = _rt_safe(_math.cosh)
_rt_sasin = _rt_safe(_math.asin)
_rt_sacos = _rt_safe(_math.acos)
_rt_sacosh = _rt_safe(_math.acosh)
_rt_satanh = _rt_safe(_math.atanh)
_rt_sgamma = _rt_safe(_math.gamma)


def _rt_ssign(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def _rt_sfloor(x):
    return float(_math.floor(x)) if _math.isfinite(x) else x


def _rt_sceil(x):
    return float(_math.ceil(x)) if _math.isfinite(x) else x


def _rt_sfinite(v):
    return all(_math.isfinite(x) for x in v)


def _rt_dopri1(f, y, T, h_io, err_old, atol, rtol, on_accept=None, name="model", t=0.0, k1=None):
    """The adaptive Dormand-Prince of :func:`_rt_dopri` for one neuron on Python floats (the same
    arithmetic, with libm's exp instead of NumPy's). ``y`` is a list of floats; returns
    ``(y, h_io, err_old)``. ``on_accept(y)`` returns ``(y, f)``, with a new ``f`` when an event changed
    something the right-hand side reads (``None`` otherwise). ``t`` and ``k1`` continue a step begun
    by :func:`_rt_dopri` (``k1``: the cached last stage, if still valid)."""
    n = len(y)
    r = range(n)
    while t < T:
        if not _rt_sfinite(y):
            raise NumericalInstability(f"{name}: the state became NaN or infinite")
        if k1 is None:
            k1 = f(t, y)
            if not _rt_sfinite(k1):
                raise NumericalInstability(f"{name}: the right-hand side is NaN or infinite")
        hmin = max(max(_H_MIN, 64.0 * _DBL_EPS * max(abs(t), abs(T))), _DBL_MIN)
        h = h_io
        if not (h > 0.0 and _math.isfinite(h)):
            h = float(_rt_initial_step(lambda pos, tt, yy, f=f: _np.asarray(f(float(tt[0]), list(yy[:, 0])))[:, None],
                                       _np.zeros(1, dtype=int), _np.array([t]), _np.array([T - t]),
                                       _np.array(y)[:, None], _np.array(k1)[:, None], _np.array([atol]),
                                       _np.array([rtol]), 5)[0])
        h = max(h, hmin)
        rej = False
        while True:
            span = T - t
            last = h * 1.01 >= span
            ht = span if last else h
            tmp = [y[i] + ht * (_A21 * k1[i]) for i in r]
            k2 = f(t + _C2 * ht, tmp)
            tmp = [y[i] + ht * (_A31 * k1[i] + _A32 * k2[i]) for i in r]
            k3 = f(t + _C3 * ht, tmp)
            tmp = [y[i] + ht * (_A41 * k1[i] + _A42 * k2[i] + _A43 * k3[i]) for i in r]
            k4 = f(t + _C4 * ht, tmp)
            tmp = [y[i] + ht * (_A51 * k1[i] + _A52 * k2[i] + _A53 * k3[i] + _A54 * k4[i]) for i in r]
            k5 = f(t + _C5 * ht, tmp)
            tmp = [y[i] + ht * (_A61 * k1[i] + _A62 * k2[i] + _A63 * k3[i] + _A64 * k4[i] + _A65 * k5[i]) for i in r]
            k6 = f(t + ht, tmp)
            y1 = [y[i] + ht * (_B1 * k1[i] + _B3 * k3[i] + _B4 * k4[i] + _B5 * k5[i] + _B6 * k6[i]) for i in r]
            k7 = f(t + ht, y1)
            ev = [ht * (_E1 * k1[i] + _E3 * k3[i] + _E4 * k4[i] + _E5 * k5[i] + _E6 * k6[i] + _E7 * k7[i])
                  for i in r]
            if not (_rt_sfinite(y1) and _rt_sfinite(ev)):
                if ht <= hmin:
                    raise NumericalInstability(f"{name}: NaN or infinite values at the minimum step size")
                h = max(ht * _FAC_MIN, hmin)
                rej = True
                continue
            s = 0.0
            for i in r:
                sc = max(atol + rtol * max(abs(y[i]), abs(y1[i])), _DBL_MIN)
                q = ev[i] / sc
                s += q * q
            err = _math.sqrt(s / float(n))
            try:
                fac_err = err ** _ALPHA
            except OverflowError:
                fac_err = _math.inf
            if err <= 1.0 or ht <= hmin:
                fac = min(max(fac_err / (err_old ** _BETA) / _SAFETY, 1.0 / _FAC_MAX), 1.0 / _FAC_MIN)
                h_new = ht / fac
                if rej:
                    h_new = min(h_new, ht)
                if last and ht < h and h_new >= ht:
                    h_new = max(h_new, h)
                err_old = max(err, 1e-4)
                y, k1 = y1, k7
                t = T if last else t + ht
                h_io = h_new
                if on_accept is not None:
                    y, f_new = on_accept(y)
                    if f_new is not None:
                        f, k1 = f_new, None
                break
            rej = True
            h = max(ht / min(1.0 / _FAC_MIN, fac_err / _SAFETY), hmin)
    return y, h_io, err_old
