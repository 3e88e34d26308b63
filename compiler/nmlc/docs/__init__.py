"""Documentation tools of nmlc: the NESTML Pygments lexer and the model-catalogue generator.

``nmlc.docs.lexer.NestmlLexer`` highlights NESTML; ``nmlc.docs.pages.generate_catalogue`` writes one page
per library model plus ``catalogue.json``; ``nmlc.docs.sphinx_ext`` wires both (and offline math) into
Sphinx. Nothing here is imported by the compiler itself, so Sphinx stays an optional dependency.
"""
from __future__ import annotations

from .lexer import NestmlLexer

__all__ = ["NestmlLexer"]
