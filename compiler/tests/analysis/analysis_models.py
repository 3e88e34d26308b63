"""ODE systems of well-known neuron models, written by hand in the form the front end lowers to.

Parameter values are NEST's documented defaults; they are used by the numerical tests.
"""

from __future__ import annotations

import sympy
from nmlc.analysis import OdeSystem

t = sympy.Symbol("t")
V_m, I_ex, I_in, I_ex__d, I_in__d = sympy.symbols("V_m I_ex I_in I_ex__d I_in__d")
g_ex, g_in, w = sympy.symbols("g_ex g_in w")
m, h, n = sympy.symbols("Act_m Inact_h Act_n")
tau_m, C_m, E_L, I_e = sympy.symbols("tau_m C_m E_L I_e")
tau_syn_ex, tau_syn_in = sympy.symbols("tau_syn_ex tau_syn_in")
E_ex, E_in, g_L = sympy.symbols("E_ex E_in g_L")
a, b, Delta_T, V_th, tau_w = sympy.symbols("a b Delta_T V_th tau_w")
g_Na, g_K, E_Na, E_K = sympy.symbols("g_Na g_K E_Na E_K")
I_stim = sympy.Symbol("I_stim")

PSC_DEFAULTS = {tau_m: 10.0, C_m: 250.0, E_L: -70.0, I_e: 0.0, tau_syn_ex: 2.0, tau_syn_in: 2.0}


def iaf_psc_delta() -> OdeSystem:
    odes = {V_m: -(V_m - E_L) / tau_m + (I_e + I_stim) / C_m}
    return OdeSystem(t, odes, frozenset({tau_m, C_m, E_L, I_e}), frozenset({I_stim}))


def iaf_psc_exp() -> OdeSystem:
    """Two receptors (excitatory and inhibitory exponential currents)."""
    odes = {
        V_m: -(V_m - E_L) / tau_m + (I_ex + I_in + I_e + I_stim) / C_m,
        I_ex: -I_ex / tau_syn_ex,
        I_in: -I_in / tau_syn_in,
    }
    return OdeSystem(t, odes, frozenset({tau_m, C_m, E_L, I_e, tau_syn_ex, tau_syn_in}), frozenset({I_stim}))


def iaf_psc_alpha() -> OdeSystem:
    """Alpha currents in the reduced second-order form I'' = -2 I'/tau - I/tau**2."""
    odes = {
        V_m: -(V_m - E_L) / tau_m + (I_ex + I_in + I_e + I_stim) / C_m,
        I_ex: I_ex__d,
        I_ex__d: -I_ex / tau_syn_ex**2 - 2 * I_ex__d / tau_syn_ex,
        I_in: I_in__d,
        I_in__d: -I_in / tau_syn_in**2 - 2 * I_in__d / tau_syn_in,
    }
    return OdeSystem(t, odes, frozenset({tau_m, C_m, E_L, I_e, tau_syn_ex, tau_syn_in}), frozenset({I_stim}))


def iaf_cond_exp() -> OdeSystem:
    odes = {
        V_m: (-g_L * (V_m - E_L) - g_ex * (V_m - E_ex) - g_in * (V_m - E_in) + I_e + I_stim) / C_m,
        g_ex: -g_ex / tau_syn_ex,
        g_in: -g_in / tau_syn_in,
    }
    parameters = frozenset({g_L, E_L, E_ex, E_in, C_m, I_e, tau_syn_ex, tau_syn_in})
    return OdeSystem(t, odes, parameters, frozenset({I_stim}))


def aeif_cond_exp() -> OdeSystem:
    odes = {
        V_m: (
            -g_L * (V_m - E_L)
            + g_L * Delta_T * sympy.exp((V_m - V_th) / Delta_T)
            - g_ex * (V_m - E_ex)
            - g_in * (V_m - E_in)
            - w
            + I_e
            + I_stim
        )
        / C_m,
        w: (a * (V_m - E_L) - w) / tau_w,
        g_ex: -g_ex / tau_syn_ex,
        g_in: -g_in / tau_syn_in,
    }
    parameters = frozenset({g_L, E_L, E_ex, E_in, C_m, I_e, tau_syn_ex, tau_syn_in, a, Delta_T, V_th, tau_w})
    return OdeSystem(t, odes, parameters, frozenset({I_stim}))


AEIF_DEFAULTS = {
    V_m: -70.6,
    w: 0.0,
    g_ex: 0.0,
    g_in: 0.0,
    g_L: 30.0,
    E_L: -70.6,
    E_ex: 0.0,
    E_in: -85.0,
    C_m: 281.0,
    I_e: 0.0,
    tau_syn_ex: 0.2,
    tau_syn_in: 2.0,
    a: 4.0,
    Delta_T: 2.0,
    V_th: -50.4,
    tau_w: 144.0,
}


def hh_psc_alpha(user_functions: bool = False) -> OdeSystem:
    """Hodgkin-Huxley with alpha currents; gate rates either explicit or as undefined user functions."""
    if user_functions:
        rates = {
            name: sympy.Function(name)(V_m)
            for name in ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")
        }
    else:
        rates = {
            "alpha_m": 0.1 * (V_m + 40) / (1 - sympy.exp(-(V_m + 40) / 10)),
            "beta_m": 4 * sympy.exp(-(V_m + 65) / 18),
            "alpha_h": 0.07 * sympy.exp(-(V_m + 65) / 20),
            "beta_h": 1 / (1 + sympy.exp(-(V_m + 35) / 10)),
            "alpha_n": 0.01 * (V_m + 55) / (1 - sympy.exp(-(V_m + 55) / 10)),
            "beta_n": 0.125 * sympy.exp(-(V_m + 65) / 80),
        }
    odes = {
        V_m: (
            -g_Na * m**3 * h * (V_m - E_Na)
            - g_K * n**4 * (V_m - E_K)
            - g_L * (V_m - E_L)
            + I_ex
            + I_in
            + I_e
            + I_stim
        )
        / C_m,
        m: rates["alpha_m"] * (1 - m) - rates["beta_m"] * m,
        h: rates["alpha_h"] * (1 - h) - rates["beta_h"] * h,
        n: rates["alpha_n"] * (1 - n) - rates["beta_n"] * n,
        I_ex: I_ex__d,
        I_ex__d: -I_ex / tau_syn_ex**2 - 2 * I_ex__d / tau_syn_ex,
        I_in: I_in__d,
        I_in__d: -I_in / tau_syn_in**2 - 2 * I_in__d / tau_syn_in,
    }
    parameters = frozenset({g_Na, g_K, g_L, E_Na, E_K, E_L, C_m, I_e, tau_syn_ex, tau_syn_in})
    return OdeSystem(t, odes, parameters, frozenset({I_stim}))


HH_DEFAULTS = {
    V_m: -65.0,
    m: 0.0529,
    h: 0.5961,
    n: 0.3177,
    I_ex: 0.0,
    I_ex__d: 0.0,
    I_in: 0.0,
    I_in__d: 0.0,
    g_Na: 120.0,
    g_K: 36.0,
    g_L: 0.3,
    E_Na: 50.0,
    E_K: -77.0,
    E_L: -54.402,
    C_m: 1.0,
    I_e: 0.0,
    tau_syn_ex: 0.2,
    tau_syn_in: 2.0,
}
