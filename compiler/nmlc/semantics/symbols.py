"""Model-level symbol table: what every name in a model refers to.

One :class:`Symbol` per declared variable, inline, kernel, input port and function of a model,
plus the predefined names and functions of the language. Scopes below the model (function
parameters, locals in handlers) are built by the checker on top of this table
(:mod:`nmlc.semantics.scopes`).

Conventions the later passes rely on:

- the initial value of a derivative, declared in a state block as ``x' mV/ms = ...``, is a
  ``state`` symbol named ``x'`` with ``attributes["base"] == "x"`` and ``attributes["order"] == 1``;
- a kernel is a ``kernel`` symbol with ``attributes["form"]`` "function" (``kernel k = f(t)``) or
  "ode" (``kernel k' = ...``, ``attributes["order"]`` its order). An ODE-form kernel takes its
  initial values from state declarations of ``k``, ``k'``, ...: its name is then a kernel, not a
  state variable, and the declarations are listed in ``attributes["initial"]`` by order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..syntax import nodes as n
from .builtins import BUILTINS, PREDEFINED_NAMES

# Names every model can read; `t` is the current time in ms. (Kept as name -> type for callers.)
PREDEFINED_VARIABLES = {"t": "ms", "e": "real", "pi": "real", "inf": "real", "true": "boolean", "false": "boolean"}
assert set(PREDEFINED_NAMES) <= set(PREDEFINED_VARIABLES)

# Predefined functions: name -> (min args, max args). Unit rules live in the checker.
PREDEFINED_FUNCTIONS: dict[str, tuple[int, int]] = {
    b.name: (b.min_args, b.max_args if b.max_args >= 0 else 10_000) for b in BUILTINS.values()
}

VARIABLE_KINDS = ("parameter", "state", "internal")


@dataclass(eq=False)
class Symbol:
    name: str
    kind: str  # parameter | state | internal | inline | kernel | spike_port | continuous_port | function
    node: n.Node
    type: n.TypeExpr | None = None
    size: n.Expr | None = None  # vector length expression
    recordable: bool = False
    decl: n.Declaration | None = None
    attributes: dict = field(default_factory=dict)

    @property
    def is_vector(self) -> bool:
        return self.size is not None


@dataclass
class ModelSymbols:
    """All model-scope symbols of one model, by name, in declaration order."""

    model: n.Model
    symbols: dict[str, Symbol] = field(default_factory=dict)
    duplicates: list[tuple[Symbol, Symbol]] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[Symbol]:
        return [s for s in self.symbols.values() if s.kind in kinds]

    def get(self, name: str) -> Symbol | None:
        return self.symbols.get(name)

    def _add(self, sym: Symbol) -> None:
        if sym.name in self.symbols:
            self.duplicates.append((self.symbols[sym.name], sym))
            return
        self.symbols[sym.name] = sym


_BLOCK_KIND = {"state": "state", "parameters": "parameter", "internals": "internal"}


def collect(model: n.Model) -> ModelSymbols:
    """Build the model scope. Duplicates are kept aside for the checker to report."""
    table = ModelSymbols(model)
    for block in model.blocks:
        if isinstance(block, n.VarBlock):
            kind = _BLOCK_KIND[block.kind]
            for decl in block.decls:
                for dn in decl.names:
                    sym = Symbol(dn.full_name, kind, dn, decl.type, dn.size, decl.recordable or kind == "state", decl)
                    if dn.order:
                        sym.attributes.update(base=dn.name, order=dn.order)
                    table._add(sym)
    for item in model.equations:
        if isinstance(item, n.Inline):
            table._add(Symbol(item.name, "inline", item, item.type, None, item.recordable))
        elif isinstance(item, n.Kernel):
            for lhs, _ in item.parts:
                _add_kernel(table, item, lhs)
    for port in model.input_ports:
        kind = "spike_port" if port.kind == "spike" else "continuous_port"
        table._add(Symbol(port.name, kind, port, port.type, port.size))
    for func in model.functions:
        table._add(Symbol(func.name, "function", func, func.return_type))
    return table


def _add_kernel(table: ModelSymbols, kernel: n.Kernel, lhs: n.Name) -> None:
    existing = table.symbols.get(lhs.name)
    if lhs.order == 0:
        table._add(Symbol(lhs.name, "kernel", kernel, attributes={"form": "function", "part": lhs}))
        return
    if existing is not None and existing.kind == "kernel" and (existing.node is kernel
                                                               or existing.attributes.get("kernel") is kernel):
        existing.attributes["order"] = max(existing.attributes.get("order", 0), lhs.order)
        return
    if existing is not None and existing.kind == "state" and not existing.attributes.get("order"):
        # `kernel g' = ...` with `g real = 1` in the state block: the declarations are the kernel's
        # initial values, so the name denotes the kernel.
        initial = {0: existing.decl}
        for order in range(1, lhs.order):
            deriv = table.symbols.get(lhs.name + "'" * order)
            if deriv is not None and deriv.kind == "state":
                initial[order] = deriv.decl
        existing.kind = "kernel"
        existing.attributes.update(form="ode", order=lhs.order, initial=initial, part=lhs, kernel=kernel)
        return
    table._add(Symbol(lhs.name, "kernel", kernel, attributes={"form": "ode", "order": lhs.order, "initial": {},
                                                                "part": lhs, "kernel": kernel}))
