"""nmlc: a NESTML compiler for NEST Simulator."""
__version__ = "0.1.0"
