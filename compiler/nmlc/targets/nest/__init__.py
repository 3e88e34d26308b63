"""The NEST Simulator target: C++ extension modules built against the pip-installed NEST."""
