"""nmlc: a NESTML compiler for NEST Simulator.

``nmlc.build(paths)`` compiles NESTML files into a NEST extension module (cached by content) and
returns a :class:`BuiltModule`; errors raise :class:`NmlcError` carrying rendered diagnostics.
Importing ``nmlc`` is cheap: sympy, lark and NEST are loaded only when a build needs them.
"""
__version__ = "0.1.0"

from .build import BuiltModule, ModelInterface, build  # noqa: E402  (the function shadows the submodule name)
from .diagnostics import NmlcError  # noqa: E402

__all__ = ["BuiltModule", "ModelInterface", "NmlcError", "build", "__version__"]
