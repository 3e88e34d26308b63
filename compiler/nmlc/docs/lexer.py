"""A Pygments lexer for NESTML (both the ``neuron``/``synapse`` and the ``model`` dialect).

Registered with Sphinx by :mod:`nmlc.docs.sphinx_ext` and, through the ``pygments.lexers`` entry point,
with Pygments itself (``pygmentize -l nestml``). The token rules follow ``nmlc/syntax/grammar.lark``:
block keywords open indented suites, ``#`` starts a comment, numbers may carry a unit (``10 mV``).
"""
from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

__all__ = ["NestmlLexer"]

# keywords that open a model or a block of a model
_BLOCKS = ("model", "neuron", "synapse", "parameters", "state", "internals", "initial_values", "equations",
           "input", "output", "update", "onReceive", "onCondition", "function")
_STATEMENTS = ("if", "elif", "else", "for", "in", "step", "while", "return", "and", "or", "not")
_DECLARATIONS = ("kernel", "inline", "recordable")
_PORTS = ("spike", "continuous", "current", "excitatory", "inhibitory")
_TYPES = ("real", "integer", "boolean", "string", "void")
_CONSTANTS = ("true", "false", "True", "False", "inf", "e", "pi")
# functions NESTML predefines; anything else followed by "(" is a user function
_BUILTINS = ("integrate_odes", "emit_spike", "deliver_spike", "convolve", "steps", "resolution", "exp", "expm1",
             "log", "ln", "log10", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "abs", "max", "min",
             "clip", "erf", "erfc", "random_normal", "random_uniform", "random_poisson", "heaviside", "info",
             "warning", "print", "println", "delta", "ceil", "floor", "round", "sign", "atan", "asin", "acos",
             "atan2", "get_sum", "timestep")


class NestmlLexer(RegexLexer):
    """Highlights NESTML model files."""

    name = "NESTML"
    aliases: ClassVar[list[str]] = ["nestml"]
    filenames: ClassVar[list[str]] = ["*.nestml"]
    mimetypes: ClassVar[list[str]] = ["text/x-nestml"]
    url = "https://nestml.readthedocs.io/"

    tokens: ClassVar[dict] = {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t\f]+", Whitespace),
            (r"\\\n", Text),
            (r'"""', String.Doc, "docstring"),
            (r"#.*$", Comment.Single),
            (r"@[A-Za-z_][A-Za-z_0-9]*(::[A-Za-z_][A-Za-z_0-9]*)?", Name.Decorator),
            # `model iaf_psc_exp:` -- the model's name is a class name
            (r"(model|neuron|synapse)(\s+)([A-Za-z_$][A-Za-z_0-9$]*)",
             bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(function)(\s+)([A-Za-z_$][A-Za-z_0-9$]*)", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (words(_BLOCKS, suffix=r"\b"), Keyword.Declaration),
            (words(_DECLARATIONS, suffix=r"\b"), Keyword.Declaration),
            (words(_STATEMENTS, suffix=r"\b"), Keyword),
            (words(_PORTS, suffix=r"\b"), Keyword.Pseudo),
            (words(_TYPES, suffix=r"\b"), Keyword.Type),
            (words(_CONSTANTS, suffix=r"\b"), Name.Constant),
            (words(_BUILTINS, suffix=r"(?=\s*\()"), Name.Builtin),
            (r"[A-Za-z_$][A-Za-z_0-9$]*(?=\s*\()", Name.Function),
            # a state variable's derivative: V_m' and V_m''
            (r"[A-Za-z_$][A-Za-z_0-9$]*'+", Name.Variable),
            (r"(\d+\.\d*|\.\d+)([eE][+-]?\d+)?", Number.Float),
            (r"\d+[eE][+-]?\d+", Number.Float),
            (r"\d+", Number.Integer),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (r"\[\[|\]\]", Punctuation),
            (r"<-", Operator),
            (r"\.\.\.", Operator),
            (r"\*\*|<=|>=|==|!=|<>|<<|>>|\+=|-=|\*=|/=|[-+*/%<>=!~^&|?]", Operator),
            (r"[()\[\],:.]", Punctuation),
            (r"[A-Za-z_$][A-Za-z_0-9$]*", Name),
        ],
        "docstring": [
            (r'"""', String.Doc, "#pop"),
            (r'[^"]+', String.Doc),
            (r'"', String.Doc),
        ],
    }
