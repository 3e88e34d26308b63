"""The NESTML syntax tree: plain dataclasses, every node located in its source file.

The parser builds this tree; every later pass (semantic checks, unit inference, lowering to
sympy, documentation) reads it. Passes that need to attach facts (a resolved symbol, an
inferred unit) do so in side tables keyed by node identity, not by mutating the classes'
shape, so the tree stays a faithful picture of what the user wrote.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

from ..diagnostics import Loc


@dataclass(eq=False)
class Node:
    loc: Loc

    def children(self) -> Iterator["Node"]:
        """Direct child nodes, in field order; looks into lists and tuples (``If.branches`` holds
        ``(condition, [statements])`` pairs, ``Kernel.parts`` ``(name, expression)`` pairs)."""
        return iter(self._child_list())

    def _child_list(self) -> list["Node"]:
        # Every pass walks the tree many times; a plain list built in one loop is several times
        # faster than a generator that re-queues nested sequences (the checker's hottest code).
        out: list[Node] = []
        for value in self.__dict__.values():
            if isinstance(value, Node):
                out.append(value)
            elif isinstance(value, (list, tuple)) and value:
                _collect(value, out)
        return out

    def walk(self) -> Iterator["Node"]:
        """All nodes below and including this one, depth first, without recursion."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            kids = node._child_list()
            if kids:
                kids.reverse()
                stack.extend(kids)


def _collect(items: list | tuple, out: list[Node]) -> None:
    """Append the nodes of a (possibly nested) list or tuple to ``out``, in order."""
    for item in items:
        if isinstance(item, Node):
            out.append(item)
        elif isinstance(item, (list, tuple)):
            _collect(item, out)


# ----------------------------------------------------------------------------------- expressions
@dataclass(eq=False)
class Expr(Node):
    pass


@dataclass(eq=False)
class Num(Expr):
    """A number literal as written (``text`` keeps it exact), optionally with a unit: ``10 mV``."""

    text: str
    is_int: bool
    unit: "TypeExpr | None" = None

    @property
    def value(self) -> float:
        return float(self.text)


@dataclass(eq=False)
class Str(Expr):
    value: str


@dataclass(eq=False)
class Bool(Expr):
    value: bool


@dataclass(eq=False)
class Name(Expr):
    """A variable reference; ``order`` counts primes (``V_m'`` has order 1), ``index`` a vector element."""

    name: str
    order: int = 0
    index: Expr | None = None


@dataclass(eq=False)
class Attr(Expr):
    """An attribute of an input port's event, e.g. ``spikes.weight``."""

    obj: Name
    attr: str


@dataclass(eq=False)
class Unary(Expr):
    op: str  # "-", "+", "~", "not"
    operand: Expr


@dataclass(eq=False)
class Binary(Expr):
    op: str  # "**", "*", "/", "%", "+", "-", "<", "<=", "==", "!=", ">=", ">", "and", "or", "&", "|", "^", "<<", ">>"
    left: Expr
    right: Expr


@dataclass(eq=False)
class Ternary(Expr):
    cond: Expr
    if_true: Expr
    if_false: Expr


@dataclass(eq=False)
class Call(Expr):
    func: str
    args: list[Expr]
    kwargs: list[tuple[str, Expr]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------- types
@dataclass(eq=False)
class TypeExpr(Node):
    """A declared type: a primitive (``real``, ``integer``, ``boolean``, ``string``, ``void``) or a unit.

    For units, ``unit`` is the unit expression as written (names, integer literals, ``*``, ``/``,
    ``**``), e.g. ``mV/ms``; ``text`` is its source text.
    """

    primitive: str | None
    unit: Expr | None
    text: str


# ------------------------------------------------------------------------------------ statements
@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class DeclName(Node):
    name: str
    size: Expr | None = None  # vector size: ``x[N] real``
    order: int = 0  # ``x' mV/ms = ...`` declares the initial value of the first derivative of x

    @property
    def full_name(self) -> str:
        """The declared name with its primes: ``x'`` for a derivative's initial value."""
        return self.name + "'" * self.order


@dataclass(eq=False)
class Declaration(Stmt):
    names: list[DeclName]
    type: TypeExpr
    init: Expr | None
    guard: Expr | None = None
    recordable: bool = False
    decorators: list[str] = field(default_factory=list)
    comment: str | None = None  # the trailing ``# ...`` on the declaration's line


@dataclass(eq=False)
class Assign(Stmt):
    target: Name
    op: str  # "=", "+=", "-=", "*=", "/="
    value: Expr


@dataclass(eq=False)
class CallStmt(Stmt):
    call: Call


@dataclass(eq=False)
class Return(Stmt):
    value: Expr | None


@dataclass(eq=False)
class If(Stmt):
    branches: list[tuple[Expr, list[Stmt]]]  # if and elif, in order
    orelse: list[Stmt] | None


@dataclass(eq=False)
class For(Stmt):
    var: str
    start: Expr
    stop: Expr
    step: Expr
    body: list[Stmt]


@dataclass(eq=False)
class While(Stmt):
    cond: Expr
    body: list[Stmt]


# ----------------------------------------------------------------------------------- equations
@dataclass(eq=False)
class Ode(Node):
    lhs: Name  # order >= 1
    rhs: Expr
    comment: str | None = None


@dataclass(eq=False)
class Inline(Node):
    name: str
    type: TypeExpr
    rhs: Expr
    recordable: bool = False
    comment: str | None = None


@dataclass(eq=False)
class Kernel(Node):
    """``kernel g = f(t)`` (function form) or ``kernel g' = ...`` (ODE form), possibly several joined by commas."""

    parts: list[tuple[Name, Expr]]
    comment: str | None = None

    @property
    def name(self) -> str:
        return self.parts[0][0].name


# -------------------------------------------------------------------------------------- blocks
@dataclass(eq=False)
class Block(Node):
    pass


@dataclass(eq=False)
class VarBlock(Block):
    kind: str  # "state" | "parameters" | "internals"
    decls: list[Declaration]


@dataclass(eq=False)
class EquationsBlock(Block):
    items: list[Ode | Inline | Kernel]


@dataclass(eq=False)
class PortAttr(Node):
    name: str
    type: TypeExpr


@dataclass(eq=False)
class InputPort(Node):
    name: str
    kind: str  # "spike" | "continuous"
    type: TypeExpr | None = None
    size: Expr | None = None
    qualifiers: list[str] = field(default_factory=list)  # "excitatory", "inhibitory"
    attributes: list[PortAttr] = field(default_factory=list)
    comment: str | None = None


@dataclass(eq=False)
class InputBlock(Block):
    ports: list[InputPort]


@dataclass(eq=False)
class OutputBlock(Block):
    kind: str  # "spike" | "continuous"
    attributes: list[PortAttr] = field(default_factory=list)


@dataclass(eq=False)
class UpdateBlock(Block):
    body: list[Stmt]


@dataclass(eq=False)
class OnReceive(Block):
    port: str
    body: list[Stmt]
    priority: Expr | None = None
    port_loc: Loc | None = None
    port_index: Expr | None = None  # ``onReceive(spikes[1])``: one channel of a vector port


@dataclass(eq=False)
class OnCondition(Block):
    cond: Expr
    body: list[Stmt]
    priority: Expr | None = None


@dataclass(eq=False)
class Param(Node):
    name: str
    type: TypeExpr


@dataclass(eq=False)
class FunctionDef(Block):
    name: str
    params: list[Param]
    return_type: TypeExpr | None
    body: list[Stmt]


AnyBlock = Union[VarBlock, EquationsBlock, InputBlock, OutputBlock, UpdateBlock, OnReceive, OnCondition, FunctionDef]


# --------------------------------------------------------------------------------------- models
@dataclass(eq=False)
class Model(Node):
    """One ``neuron``, ``synapse`` or ``model`` definition."""

    name: str
    keyword: str  # as written: "neuron" | "synapse" | "model"
    blocks: list[Block]
    docstring: str = ""

    def blocks_of(self, cls: type) -> list:
        return [b for b in self.blocks if isinstance(b, cls)]

    def var_blocks(self, kind: str) -> list[VarBlock]:
        return [b for b in self.blocks if isinstance(b, VarBlock) and b.kind == kind]

    def declarations(self, kind: str) -> list[Declaration]:
        return [d for b in self.var_blocks(kind) for d in b.decls]

    @property
    def equations(self) -> list[Ode | Inline | Kernel]:
        return [item for b in self.blocks_of(EquationsBlock) for item in b.items]

    @property
    def input_ports(self) -> list[InputPort]:
        return [p for b in self.blocks_of(InputBlock) for p in b.ports]

    @property
    def output(self) -> OutputBlock | None:
        outs = self.blocks_of(OutputBlock)
        return outs[0] if outs else None

    @property
    def functions(self) -> list[FunctionDef]:
        return self.blocks_of(FunctionDef)


@dataclass(eq=False)
class CompilationUnit(Node):
    """A parsed file: its models and its text."""

    models: list[Model]
    source: str = ""
