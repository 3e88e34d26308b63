"""The intermediate representation: a checked model lowered to sympy equations and event handlers.

This layer sits between the front end (syntax, semantics) and the targets: it turns the syntax
tree into the target-independent :class:`~nmlc.ir.model.ModelIR` (variables, ODEs in sympy,
kernels as states with spike jumps, the solver plan) that every target renders.
"""
from .model import ModelIR, build_ir

__all__ = ["ModelIR", "build_ir"]
