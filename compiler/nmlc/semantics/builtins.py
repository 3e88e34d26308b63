"""The predefined names and functions of NESTML, with the unit rule each function follows.

The checker (:mod:`nmlc.semantics.expressions`) implements the rules; this table says which rule a
function obeys, how many arguments it takes and where it may appear, so that the docs, the
"did you mean" hints and the checker share one list.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Builtin:
    name: str
    min_args: int
    max_args: int  # -1: any number
    rule: str  # how the result's type follows from the arguments; see expressions.py
    where: str = "anywhere"  # anywhere | statement | equations | kernel | update
    summary: str = ""


def _b(name: str, lo: int, hi: int, rule: str, where: str = "anywhere", summary: str = "") -> Builtin:
    return Builtin(name, lo, hi, rule, where, summary)


BUILTINS: dict[str, Builtin] = {b.name: b for b in [
    # math on dimensionless numbers: the argument must be dimensionless, the result is real
    *(_b(f, 1, 1, "math", summary="argument and result dimensionless")
      for f in ("exp", "expm1", "ln", "log", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
                "cosh", "tanh", "erf", "erfc")),
    _b("sqrt", 1, 1, "sqrt", summary="square root; the unit is halved in its powers (sqrt(mV**2) is mV)"),
    _b("pow", 2, 2, "pow", summary="pow(x, y) is x**y"),
    _b("min", 2, 2, "same", summary="arguments of one dimension; the result in the first one's unit"),
    _b("max", 2, 2, "same", summary="arguments of one dimension; the result in the first one's unit"),
    _b("clip", 3, 3, "same", summary="clip(x, low, high): x limited to [low, high], in x's unit"),
    _b("abs", 1, 1, "same", summary="absolute value, same unit"),
    _b("floor", 1, 1, "same", summary="round down, same unit"),
    _b("ceil", 1, 1, "same", summary="round up, same unit"),
    _b("round", 1, 1, "same", summary="round to nearest, same unit"),
    _b("sign", 1, 1, "sign", summary="-1, 0 or 1 (dimensionless)"),
    _b("heaviside", 1, 1, "sign", summary="0 for x < 0, else 1 (dimensionless)"),
    _b("random_normal", 2, 2, "same", "statement", "a normally distributed sample with mean and standard deviation"),
    _b("random_uniform", 2, 2, "same", "statement", "a uniform sample from [low, high)"),
    _b("random_poisson", 1, 1, "poisson", "statement", "a Poisson-distributed count (integer) with dimensionless mean"),
    _b("resolution", 0, 0, "time", summary="the simulation step in ms"),
    _b("timestep", 0, 0, "time", summary="the length of the current update step in ms"),
    _b("steps", 1, 1, "steps", summary="the number of simulation steps in a time (integer)"),
    _b("print", 1, 1, "print", "statement", "print a value or a string; `{name}` in a string prints a variable"),
    _b("println", 0, 1, "print", "statement", "print, then a newline"),
    _b("integrate_odes", 0, -1, "integrate", "update", "advance the ODEs (all, or the listed states) by one step"),
    _b("emit_spike", 0, 2, "emit", "statement", "send a spike; in a synapse emit_spike(weight, delay)"),
    _b("deliver_spike", 2, 2, "emit", "statement", "synapse: deliver the spike with weight and delay (seed dialect)"),
    _b("convolve", 2, 2, "convolve", "equations", "convolve(kernel, spike_port): the kernel's response to the spikes"),
    _b("delta", 1, 1, "delta", "kernel", "the Dirac delta, for kernels: kernel k = delta(t)"),
    _b("sift", 2, 2, "sift", "statement", "sift(spike_port, x): the weight of the arriving spikes times x"),
]}

# Names every model can read. true/false are literals (the parser makes them Bool nodes).
PREDEFINED_NAMES: dict[str, str] = {
    "t": "the current simulation time, in ms",
    "e": "Euler's number 2.718...",
    "pi": "the circle constant 3.14159...",
    "inf": "infinity; like 0 it fits any unit",
}

# One-letter unit symbols that are far likelier to be a forgotten variable than a unit when they
# appear bare in an expression (NESTML read an undeclared `d` as "day"). As a value they are not
# units; `1 d`, `2 h` and types such as `d ms` are still units.
NOT_VALUE_UNITS: dict[str, str] = {
    "d": "day", "h": "hour", "min": "minute", "m": "metre", "g": "gram", "l": "litre", "L": "litre",
    "M": "molar", "C": "coulomb", "F": "farad", "H": "henry", "J": "joule", "K": "kelvin", "N": "newton",
    "S": "siemens", "T": "tesla", "W": "watt",
}
