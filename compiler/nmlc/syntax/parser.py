"""Parse NESTML source text into the syntax tree of :mod:`nmlc.syntax.nodes`.

A LALR(1) lark parser with an indentation post-lexer builds the tree directly (the
transformer runs on each reduction, so no intermediate parse tree and no recursion over deep
expressions). Input that cannot be text (NUL bytes, invalid UTF-8), inconsistent indentation,
pathological nesting and every lark error become diagnostics, never exceptions.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter
from lark.lexer import PatternStr

from ..diagnostics import Diagnostics, Loc
from . import nodes as n
from .legacy import normalise_end_blocks

_CALL_ALIASES = {"curr_sum": "convolve", "cond_sum": "convolve"}
PRIMITIVE_TYPES = frozenset({"real", "integer", "boolean", "string", "void"})
MAX_NESTING = 100
# Depth of the syntax tree (blocks, statements, operators) that later passes may walk recursively; a
# 200-term sum without parentheses is as deep as 200 nested parentheses.
MAX_TREE_DEPTH = 200
# A model file is a few kilobytes (NESTML's largest is ~12 kB). Parsing and checking take ~13 s per
# megabyte of valid models, so larger input is refused up front rather than ground through.
MAX_FILE_BYTES = 1_000_000

# Friendly names of terminals, for "expected ..." in syntax errors.
_TOKEN_NAMES = {
    "_NL": "end of line", "_INDENT": "an indented block", "_DEDENT": "end of block", "NAME": "a name",
    "NUMBER": "a number", "INT": "an integer", "STRING": "a string", "COLON": "`:`", "LPAR": "`(`",
    "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "EQUAL": "`=`", "COMMA": "`,`", "ASSIGN_OP": "an assignment",
    "ADD_OP": "`+` or `-`", "STAR": "`*`", "SLASH": "`/`", "POW": "`**`", "COMP_OP": "a comparison",
    "PRIME": "`'`", "NEURON": "`neuron`", "SYNAPSE": "`synapse`", "MODEL": "`model`", "STATE": "`state`",
    "PARAMETERS": "`parameters`", "INTERNALS": "`internals`", "INITIAL_VALUES": "`initial_values`",
    "PORT_KIND": "`spike` or `continuous`",
    "LESSTHAN": "`<`", "MORETHAN": "`>`", "DOT": "`.`", "QMARK": "`?`", "$END": "end of file",
    "ELLIPSIS": "`...`", "AT": "`@`", "GUARD_OPEN": "`[[`", "GUARD_CLOSE": "`]]`",
    "TILDE": "`~`", "PERCENT": "`%`", "PIPE": "`|`", "CARET": "`^`", "AMP": "`&`", "SHIFT_OP": "`<<` or `>>`",
    "OR": "`or`", "AND": "`and`", "NOT": "`not`", "DOCSTRING": "a docstring", "SIGN": "`+` or `-`",
    "QUALIFIER": "`excitatory` or `inhibitory`", "ON_RECEIVE": "`onReceive`", "ON_CONDITION": "`onCondition`",
}


class _NestmlIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB", "GUARD_OPEN"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "GUARD_CLOSE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def process(self, stream):
        return super().process(self._join_after_comma(stream))

    @staticmethod
    def _join_after_comma(stream):
        """A line ending in a comma continues on the next line (``kernel a' = ...,`` then ``b' = ...``)."""
        prev = None
        for tok in stream:
            if tok.type == "_NL" and prev is not None and prev.type == "COMMA":
                continue
            prev = tok
            yield tok


def _loc_of(file: str, item: object) -> Loc:
    if isinstance(item, Token):
        end_col = item.end_column if item.end_line == item.line else None
        return Loc(file, item.line or 0, item.column or 0, item.end_line, end_col)
    if isinstance(item, n.Node):
        return item.loc
    raise TypeError(item)


def _first_loc(file: str, children: list) -> Loc:
    for child in children:
        if isinstance(child, (Token, n.Node)):
            return _loc_of(file, child)
    return Loc(file, 0, 0)


def _nodes(children: list, cls: type) -> list:
    return [c for c in children if isinstance(c, cls)]


class _Builder(Transformer):
    """Builds nodes on each LALR reduction (run inline by the parser)."""

    def __init__(self, file: str, lines: list[str]):
        super().__init__(visit_tokens=False)
        self.file = file
        self.lines = lines

    # --- helpers
    def _loc(self, children: list) -> Loc:
        return _first_loc(self.file, children)

    def _comment(self, loc: Loc) -> str | None:
        if not 1 <= loc.line <= len(self.lines):
            return None
        return _trailing_comment(self.lines[loc.line - 1])

    # --- units and types
    def type_spec(self, c):
        unit = c[0]
        text = _unit_text(unit)
        if isinstance(unit, n.Name) and unit.name in PRIMITIVE_TYPES:
            return n.TypeExpr(unit.loc, unit.name, None, text)
        return n.TypeExpr(unit.loc, None, unit, text)

    def unit_name(self, c):
        tok = c[0]
        return n.Name(_loc_of(self.file, tok), str(tok))

    def unit_int(self, c):
        return n.Num(_loc_of(self.file, c[0]), str(c[0]), True)

    def unit_mul(self, c):
        return n.Binary(c[0].loc, "*", c[0], c[2])

    def unit_div(self, c):
        return n.Binary(c[0].loc, "/", c[0], c[2])

    def unit_pow(self, c):
        return n.Binary(c[0].loc, "**", c[0], c[2])

    def unit_exponent(self, c):
        toks = [t for t in c if isinstance(t, Token)]
        text = "".join(str(t) for t in toks)
        num = n.Num(_loc_of(self.file, toks[-1]), toks[-1].value, True)
        if text.startswith("-"):
            return n.Unary(_loc_of(self.file, toks[0]), "-", num)
        return num

    # --- expressions
    def number(self, c):
        tok = c[0]
        text = str(tok)
        is_int = re.fullmatch(r"\d+", text) is not None
        unit = None
        if len(c) > 1:
            utok = c[1]
            uname = n.Name(_loc_of(self.file, utok), str(utok))
            unit = n.TypeExpr(uname.loc, None, uname, str(utok))
        return n.Num(_loc_of(self.file, tok), text, is_int, unit)

    def string(self, c):
        tok = c[0]
        return n.Str(_loc_of(self.file, tok), _unescape(str(tok)[1:-1]))

    def variable(self, c):
        tok = c[0]
        loc = _loc_of(self.file, tok)
        index = None
        order = 0
        for item in c[1:]:
            if isinstance(item, n.Expr):
                index = item
            elif isinstance(item, Token) and item.type == "PRIME":
                order += 1
        name = str(tok)
        if index is None and order == 0 and name in ("true", "True", "false", "False"):
            return n.Bool(loc, name.lower() == "true")
        return n.Name(loc, name, order, index)

    def attr(self, c):
        obj = n.Name(_loc_of(self.file, c[0]), str(c[0]))
        return n.Attr(obj.loc, obj, str(c[1]))

    def call(self, c):
        tok = c[0]
        args, kwargs = [], []
        for item in c[1:]:
            if item is None:
                continue
            if isinstance(item, tuple):
                kwargs.append(item)
            else:
                args.append(item)
        # NESTML 2's curr_sum / cond_sum are today's convolve
        name = _CALL_ALIASES.get(str(tok), str(tok))
        if len(args) == 2 and (name == "get_weight" or (name == "sift" and _is_time(args[1]))):
            # the weight of the spikes arriving now on a port, spelt get_weight(port, t) or
            # sift(port, t) by NESTML development versions: sift(port, 1)
            name, args = "sift", [args[0], n.Num(args[1].loc, "1", True)]
        return n.Call(_loc_of(self.file, tok), name, args, kwargs)

    def kwarg(self, c):
        return (str(c[0]), c[1])

    def binary(self, c):
        left, op, right = c
        return n.Binary(left.loc, str(op), left, right)

    def unary(self, c):
        op, operand = c
        return n.Unary(_loc_of(self.file, op), str(op), operand)

    def ternary(self, c):
        exprs = [x for x in c if isinstance(x, n.Expr)]
        return n.Ternary(exprs[0].loc, exprs[0], exprs[1], exprs[2])

    # --- declarations and statements
    def decorator(self, c):
        return "::".join(str(t) for t in c)

    def decl_name(self, c):
        size = c[1] if len(c) > 1 else None
        return n.DeclName(_loc_of(self.file, c[0]), str(c[0]), size)

    def decl_derivative(self, c):
        # ``x' mV/ms = ...`` in a state block: the initial value of a derivative (higher-order ODEs, kernels)
        order = sum(1 for t in c[1:] if isinstance(t, Token) and t.type == "PRIME")
        return n.DeclName(_loc_of(self.file, c[0]), str(c[0]), None, order)

    def guard(self, c):
        return ("guard", c[1])

    def decl_head(self, c):
        decorators = [x for x in c if isinstance(x, str) and not isinstance(x, Token)]
        recordable = any(isinstance(x, Token) and x.type == "RECORDABLE" for x in c)
        names = _nodes(c, n.DeclName)
        type_ = _nodes(c, n.TypeExpr)[0]
        exprs = [x for x in c if isinstance(x, n.Expr)]
        guard = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "guard"), None)
        init = exprs[0] if exprs else None
        loc = names[0].loc
        return n.Declaration(loc, names, type_, init, guard, recordable, decorators, self._comment(loc))

    def declaration(self, c):
        return c[0]

    def assignment(self, c):
        target = c[0]
        if len(c) == 3:
            op, value = str(c[1]), c[2]
        else:
            op, value = "=", c[1]
        return n.Assign(target.loc, target, op, value)

    def call_stmt(self, c):
        return n.CallStmt(c[0].loc, c[0])

    def return_stmt(self, c):
        return n.Return(_loc_of(self.file, c[0]), c[1] if len(c) > 1 else None)

    def suite(self, c):
        return [s for s in c if isinstance(s, n.Stmt)]

    def if_stmt(self, c):
        branches = [(c[1], c[2])]
        orelse = None
        for item in c[3:]:
            if isinstance(item, tuple) and item[0] == "elif":
                branches.append((item[1], item[2]))
            elif isinstance(item, tuple) and item[0] == "else":
                orelse = item[1]
        return n.If(_loc_of(self.file, c[0]), branches, orelse)

    def elif_clause(self, c):
        return ("elif", c[1], c[2])

    def else_clause(self, c):
        return ("else", c[1])

    def for_stmt(self, c):
        loc = _loc_of(self.file, c[0])
        var = str(c[1])
        exprs = [x for x in c if isinstance(x, n.Expr)]
        body = c[-1]
        step = exprs[2] if len(exprs) > 2 else n.Num(loc, "1", True)
        return n.For(loc, var, exprs[0], exprs[1], step, body)

    def while_stmt(self, c):
        return n.While(_loc_of(self.file, c[0]), c[1], c[2])

    # --- equations
    def ode(self, c):
        lhs, rhs = c
        return n.Ode(lhs.loc, lhs, rhs, self._comment(lhs.loc))

    def inline(self, c):
        recordable = any(isinstance(x, Token) and x.type == "RECORDABLE" for x in c)
        name_tok = next(x for x in c if isinstance(x, Token) and x.type == "NAME")
        type_ = _nodes(c, n.TypeExpr)[0]
        rhs = [x for x in c if isinstance(x, n.Expr)][-1]
        loc = _loc_of(self.file, c[0])
        return n.Inline(loc, str(name_tok), type_, rhs, recordable, self._comment(loc))

    def kernel_part(self, c):
        return (c[0], c[1])

    def kernel(self, c):
        parts = [x for x in c if isinstance(x, tuple)]
        loc = _loc_of(self.file, c[0])
        return n.Kernel(loc, parts, self._comment(loc))

    # --- ports
    def port_attr(self, c):
        return n.PortAttr(_loc_of(self.file, c[0]), str(c[0]), c[1])

    def port_attrs(self, c):
        return [x for x in c if isinstance(x, n.PortAttr)]

    def input_port(self, c):
        name = c[0]
        size = next((x for x in c[1:] if isinstance(x, n.Expr)), None)
        type_ = next((x for x in c if isinstance(x, n.TypeExpr)), None)
        quals = [str(x) for x in c if isinstance(x, Token) and x.type == "QUALIFIER"]
        kind_tok = next(x for x in c if isinstance(x, Token) and x.type == "PORT_KIND")
        kind = "continuous" if str(kind_tok) in ("continuous", "current") else "spike"
        attrs = next((x for x in c if isinstance(x, list)), [])
        loc = _loc_of(self.file, name)
        return n.InputPort(loc, str(name), kind, type_, size, quals, attrs, self._comment(loc))

    def output_kind(self, c):
        kind = "continuous" if str(c[0]) in ("continuous", "current") else "spike"
        attrs = c[1] if len(c) > 1 and c[1] is not None else []
        return (kind, attrs)

    # --- blocks
    def var_block(self, c):
        kw = c[0]
        kind = "state" if str(kw) == "initial_values" else str(kw)
        block = n.VarBlock(_loc_of(self.file, kw), kind, _nodes(c, n.Declaration))
        inlines = _nodes(c, n.Inline)
        if not inlines:
            return block
        # derived values declared among the variables (NESTML 1-2) are inline expressions
        return ("blocks", [block, n.EquationsBlock(inlines[0].loc, inlines)])

    def var_inline(self, c):
        name_tok = next(x for x in c if isinstance(x, Token) and x.type == "NAME")
        type_ = _nodes(c, n.TypeExpr)[0]
        rhs = [x for x in c if isinstance(x, n.Expr)][-1]
        loc = _loc_of(self.file, name_tok)
        return n.Inline(loc, str(name_tok), type_, rhs, True, self._comment(loc))

    def equations_block(self, c):
        items = [x for x in c if isinstance(x, (n.Ode, n.Inline, n.Kernel))]
        return n.EquationsBlock(_loc_of(self.file, c[0]), items)

    def input_block(self, c):
        return n.InputBlock(_loc_of(self.file, c[0]), _nodes(c, n.InputPort))

    def output_block(self, c):
        kind, attrs = next(x for x in c if isinstance(x, tuple))
        return n.OutputBlock(_loc_of(self.file, c[0]), kind, attrs)

    def update_block(self, c):
        return n.UpdateBlock(_loc_of(self.file, c[0]), c[-1])

    def receive_port(self, c):
        return ("port", c[0], c[1] if len(c) > 1 else None)

    def on_receive(self, c):
        _, port, index = c[1]
        priority = next((x for x in c[2:] if isinstance(x, n.Expr)), None)
        return n.OnReceive(_loc_of(self.file, c[0]), str(port), c[-1], priority, _loc_of(self.file, port), index)

    def on_condition(self, c):
        exprs = [x for x in c if isinstance(x, n.Expr)]
        priority = exprs[1] if len(exprs) > 1 else None
        return n.OnCondition(_loc_of(self.file, c[0]), exprs[0], c[-1], priority)

    def param(self, c):
        return n.Param(_loc_of(self.file, c[0]), str(c[0]), c[1])

    def function_def(self, c):
        params = _nodes(c, n.Param)
        types = [x for x in c if isinstance(x, n.TypeExpr)]
        return n.FunctionDef(_loc_of(self.file, c[0]), str(c[1]), params, types[0] if types else None, c[-1])

    def docstring_item(self, c):
        return ("docstring", _strip_docstring(str(c[0])))

    def model(self, c):
        kw, name = c[0], c[1]
        items = [y for x in c[2:] for y in (x[1] if isinstance(x, tuple) and x[0] == "blocks" else [x])]
        blocks = [x for x in items if isinstance(x, n.Block)]
        docs = [x[1] for x in c[2:] if isinstance(x, tuple) and x[0] == "docstring"]
        return n.Model(_loc_of(self.file, kw), str(name), str(kw), blocks, "\n".join(docs))

    def start(self, c):
        models = _nodes(c, n.Model)
        loose_docs = [_strip_docstring(str(t)) for t in c if isinstance(t, Token) and t.type == "DOCSTRING"]
        for model in models:
            if not model.docstring:
                model.docstring = _comment_docstring(self.lines, model.loc.line) or "\n".join(loose_docs)
        return n.CompilationUnit(Loc(self.file, 1, 1), models)


def _is_time(expr: n.Expr) -> bool:
    """The predefined current time `t` (which no model may declare)."""
    return isinstance(expr, n.Name) and expr.name == "t" and expr.order == 0 and expr.index is None


def _unit_text(unit: n.Expr) -> str:
    if isinstance(unit, n.Name):
        return unit.name
    if isinstance(unit, n.Num):
        return unit.text
    if isinstance(unit, n.Unary):
        return f"-{_unit_text(unit.operand)}"
    if isinstance(unit, n.Binary):
        left, right = _unit_text(unit.left), _unit_text(unit.right)
        if isinstance(unit.left, n.Binary) and unit.op == "**":
            left = f"({left})"
        if isinstance(unit.right, n.Binary):
            right = f"({right})"
        return f"{left}{unit.op}{right}"
    return "?"


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _strip_docstring(text: str) -> str:
    import textwrap

    return textwrap.dedent(text[3:-3]).strip("\n")


def _trailing_comment(line: str) -> str | None:
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[i + 1:].strip() or None
    return None


def _comment_docstring(lines: list[str], model_line: int) -> str:
    """The block of ``#`` comment lines directly above the model header (NESTML's docstring)."""
    i = model_line - 2
    block: list[str] = []
    while i >= 0 and lines[i].lstrip().startswith("#"):
        block.append(lines[i].lstrip()[1:])
        i -= 1
    block.reverse()
    text = "\n".join(line[1:] if line.startswith(" ") else line for line in block)
    return text.strip("\n")


_BUILDER = _Builder("<none>", [])
_PARSE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    # The builder runs as the parser's inline transformer: nodes are made on each reduction.
    # cache=True keeps the analysed LALR tables in the temp folder, keyed by a hash of the grammar and
    # lark's version: a warm start loads in ~0.05 s instead of building in ~0.4 s. Lark falls back to
    # building (silently) when the cache file is missing, stale, unreadable or unwritable.
    return Lark(grammar, parser="lalr", lexer="contextual", postlex=_NestmlIndenter(), maybe_placeholders=True,
                transformer=_BUILDER, cache=True)


def _decode(data: bytes, file: str, diags: Diagnostics) -> str | None:
    # For a file that is not text, the offending line is still shown (undecodable bytes as U+FFFD,
    # NUL as U+2400) so that the caret can point at the culprit.
    if b"\x00" in data:
        diags.sources.add(file, data.decode("utf-8", errors="replace").replace("\x00", "\u2400"))
        diags.report("E0102", Loc(file, *_line_col_of_offset(data, data.index(b"\x00"))))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        diags.sources.add(file, data.decode("utf-8", errors="replace"))
        line, col = _line_col_of_offset(data, exc.start)
        diags.report("E0101", Loc(file, line, col), byte=data[exc.start], offset=exc.start)
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _line_col_of_offset(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, as the line is shown) of a byte offset."""
    before = data[:offset]
    line = before.count(b"\n") + 1
    col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", errors="replace")) + 1
    return line, col


def _check_layout(text: str, file: str, diags: Diagnostics) -> bool:
    """Reject mixed tab/space indentation and runaway nesting before lark sees the text."""
    ok = True
    style = None
    depth = 0
    max_depth_loc = None
    for lineno, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip(" \t")
        if stripped and not stripped.startswith("#"):
            indent = line[: len(line) - len(stripped)]
            if indent:
                kinds = set(indent)
                if len(kinds) > 1:
                    diags.report("E0106", Loc(file, lineno, 1), detail="tabs and spaces mixed in one indentation",
                                 hint="indent with spaces only")
                    ok = False
                elif style is None:
                    style = kinds.pop()
                elif style not in kinds:
                    diags.report("E0106", Loc(file, lineno, 1),
                                 detail="this line is indented with tabs, earlier ones with spaces" if "\t" in indent
                                 else "this line is indented with spaces, earlier ones with tabs",
                                 hint="indent with spaces only")
                    ok = False
        for col, ch in enumerate(line, start=1):
            if ch in "([":
                depth += 1
                if depth > MAX_NESTING and max_depth_loc is None:
                    max_depth_loc = Loc(file, lineno, col)
            elif ch in ")]":
                depth = max(depth - 1, 0)
            elif ch == "#":
                break
    if max_depth_loc is not None:
        diags.report("E0107", max_depth_loc, limit=MAX_NESTING)
        ok = False
    return ok


@lru_cache(maxsize=1)
def _literal_terminals() -> dict[str, str]:
    """Terminals that match one fixed string, by name (lark numbers anonymous ones like `__ANON_1`)."""
    return {t.name: t.pattern.value for t in _lark().terminals if isinstance(t.pattern, PatternStr)}


def _terminal_name(name: str) -> str:
    if name in _TOKEN_NAMES:
        return _TOKEN_NAMES[name]
    literal = _literal_terminals().get(name)
    return f"`{literal}`" if literal is not None else name.lower()


def _expected(tokens: set[str]) -> str:
    names = sorted({_terminal_name(t) for t in tokens})
    if not names or len(names) > 8:
        return ""
    return ", expected " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1])


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "_INDENT":
        return "indentation"
    if tok.type == "_DEDENT":
        return "end of block"
    return f"`{tok.value}`"


def parse_text(text: str, file: str, diags: Diagnostics) -> n.CompilationUnit | None:
    """Parse ``text``; on failure report diagnostics and return None."""
    diags.sources.add(file, text)
    if len(text) > MAX_FILE_BYTES:
        diags.report("E0110", Loc(file, 1, 1), size=len(text), limit=MAX_FILE_BYTES)
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # NESTML 2-5 closed blocks with `end` lines; the grammar reads blocks from indentation
    text = normalise_end_blocks(text)
    if not _check_layout(text, file, diags):
        return None
    if not text.endswith("\n"):
        text += "\n"
    lines = text.split("\n")
    try:
        unit = _parse_with(text, file, lines)
    except UnexpectedEOF as exc:
        last = len(lines)
        diags.report("E0105", Loc(file, max(last - 1, 1), 1), expected=_expected(set(exc.expected)))
        return None
    except UnexpectedToken as exc:
        tok = exc.token
        # The indenter closes the open blocks at the end of the input with position-less dedents.
        at_end = tok.start_pos is None or tok.start_pos >= len(text.rstrip())
        if tok.type == "$END" or (tok.type == "_DEDENT" and at_end):
            line = _last_code_line(lines)
            diags.report("E0105", Loc(file, line, max(len(lines[line - 1]), 1)), expected=_expected(exc.expected),
                         hint=_unclosed_hint(lines))
        else:
            line, col = _token_pos(tok, exc, lines)
            diags.report("E0103", Loc(file, line, col, line, col + max(len(str(tok.value)), 1)
                                      if tok.type not in ("_NL", "_INDENT", "_DEDENT") else None),
                         found=_found(tok), expected=_expected(exc.expected), hint=_syntax_hint(tok, exc))
        return None
    except UnexpectedCharacters as exc:
        char = exc.char
        if char == '"':
            diags.report("E0109", Loc(file, exc.line, exc.column))
        else:
            diags.report("E0104", Loc(file, exc.line, exc.column), char=char)
        return None
    except DedentError:
        line = _dedent_line(text)
        diags.report("E0106", Loc(file, line, 1), detail="the indentation of this line matches no enclosing block")
        return None
    except UnexpectedInput as exc:  # any other lark input error
        diags.report("E0103", Loc(file, getattr(exc, "line", 1), getattr(exc, "column", 1)), found="input",
                     expected="")
        return None
    except RecursionError:
        diags.report("E0107", Loc(file, 1, 1), limit=MAX_NESTING)
        return None
    if not unit.models:
        diags.report("E0108", Loc(file, 1, 1))
        return None
    too_deep = _too_deep(unit)
    if too_deep is not None:
        diags.report("E0111", too_deep.loc, limit=MAX_TREE_DEPTH)
        return None
    unit.source = text
    return unit


def _too_deep(unit: n.CompilationUnit) -> n.Node | None:
    """The first node deeper than MAX_TREE_DEPTH, found without recursion; None if the tree is shallow."""
    stack: list[tuple[n.Node, int]] = [(unit, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            return node
        stack.extend((child, depth + 1) for child in node.children())
    return None


def _parse_with(text: str, file: str, lines: list[str]) -> n.CompilationUnit:
    parser = _lark()
    with _PARSE_LOCK:
        _BUILDER.file, _BUILDER.lines = file, lines
        return parser.parse(text)


def _last_code_line(lines: list[str]) -> int:
    for i in range(len(lines), 0, -1):
        stripped = lines[i - 1].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return 1


def _unclosed_hint(lines: list[str]) -> str | None:
    """Where the last bracket still open at the end of the file was opened, if any."""
    opened: list[tuple[str, int]] = []
    for lineno, line in enumerate(lines, start=1):
        in_string = False
        for ch in line:
            if ch == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif ch == "#":
                break
            elif ch in "([":
                opened.append((ch, lineno))
            elif ch in ")]" and opened:
                opened.pop()
    if opened:
        ch, lineno = opened[-1]
        return f"the `{ch}` opened on line {lineno} is never closed"
    return None


def _token_pos(tok: Token, exc: UnexpectedToken, lines: list[str]) -> tuple[int, int]:
    line = tok.line if tok.line is not None else getattr(exc, "line", 1)
    col = tok.column if tok.column is not None else getattr(exc, "column", 1)
    if tok.type == "_NL" and tok.line is not None:
        # an unexpected end of line is reported at the end of the line it ends
        text = lines[tok.line - 1] if 0 < tok.line <= len(lines) else ""
        code = text.split("#", 1)[0].rstrip()
        return tok.line, len(code) + 1
    if tok.type in ("_INDENT", "_DEDENT"):
        return max(line or 1, 1), 1
    return max(line or 1, 1), max(col or 1, 1)


def _syntax_hint(tok: Token, exc: UnexpectedToken) -> str | None:
    if tok.type == "_INDENT":
        return "this line is indented more than the block it belongs to"
    if tok.type == "_NL" and "COLON" in exc.expected:
        return "a block header ends with `:`"
    if tok.type == "_NL" and any(t in exc.expected for t in ("RPAR",)):
        return "a `(` is not closed"
    return None


def _dedent_line(text: str) -> int:
    """The first line whose indentation matches none of the open levels (for DedentError)."""
    levels = [0]
    for lineno, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        width = len(line.expandtabs(8)) - len(stripped.expandtabs(8)) if "\t" in line else len(line) - len(stripped)
        if width > levels[-1]:
            levels.append(width)
        else:
            while levels and width < levels[-1]:
                levels.pop()
            if not levels or levels[-1] != width:
                return lineno
    return 1


def parse_file(path: str | Path, diags: Diagnostics) -> n.CompilationUnit | None:
    """Read and parse a file; unreadable or non-text files are diagnostics, not exceptions."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        diags.report("E0100", Loc(file, 0, 0), reason=exc.strerror or str(exc))
        return None
    if len(data) > MAX_FILE_BYTES:
        diags.report("E0110", Loc(file, 1, 1), size=len(data), limit=MAX_FILE_BYTES)
        return None
    text = _decode(data, file, diags)
    if text is None:
        return None
    return parse_text(text, file, diags)
