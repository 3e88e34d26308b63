"""Model structure: neuron or synapse, and the checks on blocks and declarations as a whole.

These checks need no types: which blocks appear and how often, whether each ``onReceive`` names a
spike port once, whether a name is declared twice or hides a predefined one.
"""
from __future__ import annotations

from typing import Callable

from ..syntax import nodes as n
from .builtins import BUILTINS, PREDEFINED_NAMES
from .symbols import ModelSymbols

Report = Callable[..., object]

_UNIQUE_BLOCKS = {n.InputBlock: "input", n.OutputBlock: "output", n.UpdateBlock: "update"}


def infer_kind(model: n.Model) -> str:
    """"neuron" or "synapse": the keyword when it says so; for ``model``, the name's ending
    ("..._synapse", "..._neuron"), else a synapse is a model that sends spikes with a weight and a
    delay (``emit_spike(w, d)``, ``deliver_spike``)."""
    if model.keyword in ("neuron", "synapse"):
        return model.keyword
    if model.name.endswith("synapse"):
        return "synapse"
    if model.name.endswith("neuron"):
        return "neuron"
    # spikes are sent by statements: declarations and equations need not be searched (they are most
    # of a model's tree, and this runs for every `model` whose name does not tell its kind)
    statement_blocks = (n.UpdateBlock, n.OnReceive, n.OnCondition, n.FunctionDef)
    for node in (node for block in model.blocks if isinstance(block, statement_blocks) for node in block.walk()):
        if isinstance(node, n.Call) and (node.func == "deliver_spike" or (node.func == "emit_spike" and node.args)):
            return "synapse"
    return "neuron"


def check_structure(model: n.Model, kind: str, table: ModelSymbols, report: Report) -> None:
    """Blocks, handlers and declarations as a whole."""
    seen: dict[type, n.Block] = {}
    for block in model.blocks:
        name = _UNIQUE_BLOCKS.get(type(block))
        if name is None:
            continue
        if type(block) in seen:
            report("E0400", block.loc, block=name,
                   hint=f"merge it with the `{name}:` block at line {seen[type(block)].loc.line}")
        else:
            seen[type(block)] = block

    for first, again in table.duplicates:
        report("E0201", again.node.loc, name=again.name,
               hint=f"the first declaration is at line {first.node.loc.line}")

    for sym in table.symbols.values():
        base = sym.attributes.get("base", sym.name)
        if base in PREDEFINED_NAMES:
            report("E0208", sym.node.loc, name=base, hint=f"`{base}` is {PREDEFINED_NAMES[base]}; choose another name")
        elif sym.kind == "function" and sym.name in BUILTINS:
            report("E0208", sym.node.loc, name=sym.name, hint=f"`{sym.name}` is a predefined function; rename yours")

    handled: dict[str, n.OnReceive] = {}
    for handler in model.blocks_of(n.OnReceive):
        loc = handler.port_loc or handler.loc
        sym = table.get(handler.port)
        if sym is None:
            ports = [p.name for p in model.input_ports if p.kind == "spike"]
            report("E0203", loc, name=handler.port,
                   hint=f"the spike ports are {', '.join(f'`{p}`' for p in ports)}" if ports
                   else f"declare it in the input block: `{handler.port} <- spike`")
            continue
        if sym.kind == "continuous_port":
            report("E0401", loc, what=f"onReceive({handler.port})", where="a continuous port",
                   hint="a continuous port has a value at every step; read it in `update:` instead")
            continue
        if sym.kind != "spike_port":
            report("E0203", loc, name=handler.port)
            continue
        key = handler.port if handler.port_index is None else f"{handler.port}[{_index_text(handler.port_index)}]"
        if key in handled:
            report("E0404", loc, name=key, hint=f"the first handler is at line {handled[key].loc.line}")
        else:
            handled[key] = handler

    if kind == "neuron" and not any(isinstance(b, (n.UpdateBlock, n.OnCondition, n.OnReceive, n.EquationsBlock))
                                    for b in model.blocks):
        report("E0403", model.loc, hint="add `update:` with the model's dynamics")


def _index_text(expr: n.Expr) -> str:
    if isinstance(expr, n.Num):
        return expr.text
    if isinstance(expr, n.Name):
        return expr.name
    return str(id(expr))
