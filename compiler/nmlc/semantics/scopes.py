"""Scopes below the model: function parameters, local declarations and loop variables.

A :class:`Scope` is one block of statements (a function body, a handler, an ``if`` branch, a loop
body); lookups walk outwards to the enclosing blocks and stop at the model scope, which the checker
consults next (:class:`~nmlc.semantics.symbols.ModelSymbols`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..syntax import nodes as n
from .types import Ty


@dataclass(eq=False)
class LocalSymbol:
    """A name declared below the model: ``kind`` is "param" (of a function), "local" or "loop"."""

    name: str
    kind: str
    node: n.Node
    ty: Ty
    size: n.Expr | None = None
    reads: int = 0

    @property
    def is_vector(self) -> bool:
        return self.size is not None


@dataclass
class Scope:
    parent: "Scope | None" = None
    names: dict[str, LocalSymbol] = field(default_factory=dict)

    def lookup(self, name: str) -> LocalSymbol | None:
        scope: Scope | None = self
        while scope is not None:
            sym = scope.names.get(name)
            if sym is not None:
                return sym
            scope = scope.parent
        return None

    def declare(self, sym: LocalSymbol) -> LocalSymbol | None:
        """Add ``sym``; returns the symbol it clashes with in this very block, if any (not added then)."""
        existing = self.names.get(sym.name)
        if existing is not None:
            return existing
        self.names[sym.name] = sym
        return None

    def visible(self) -> list[str]:
        out: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            out.extend(scope.names)
            scope = scope.parent
        return out
