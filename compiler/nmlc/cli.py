"""The `nmlc` command line: check, build, analyze and validate NESTML models.

Errors go to stderr in the `FILE:LINE:COL: error[CODE]: message` form; a user error never
shows a Python traceback (exit 1), and an internal error says so plainly (exit 2).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _print_diags(diags) -> None:
    text = diags.render()
    if text:
        print(text, file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    """Parse and check every file; all diagnostics of all files are printed, then a one-line total."""
    from .diagnostics import Diagnostics
    from .semantics import check_file

    diags = Diagnostics(warnings_as_errors=args.werror)
    for f in args.files:
        check_file(Path(f), diags, werror=args.werror)
    _print_diags(diags)
    errors = len(diags.errors)
    if errors:
        print(f"nmlc check: {errors} error(s) in {len(args.files)} file(s)", file=sys.stderr)
        return 1
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from .build import build as build_module

    t0 = time.perf_counter()
    pairs = []
    for text in args.pair or []:
        parts = text.split(":")
        if len(parts) != 2 or not all(parts):
            print(f"nmlc build: --pair takes NEURON:SYNAPSE, got {text!r}", file=sys.stderr)
            return 1
        pairs.append((parts[0], parts[1]))
    if args.target == "python":
        if pairs:
            print("nmlc build: --pair exists only for the NEST target", file=sys.stderr)
            return 1
        module = build_module(args.files, args.output, werror=args.werror, target="python")
    else:
        nest_include = args.nest_include
        if args.nest_config is not None:
            from .targets.nest.toolchain import ToolchainError, nest_include_from_config

            try:
                nest_include = nest_include_from_config(args.nest_config)
            except ToolchainError as exc:
                print(f"nmlc build: error: {exc}", file=sys.stderr)
                return 1
        module = build_module(args.files, args.output, name_suffix=args.suffix, jobs=args.jobs,
                             nest_include=nest_include, werror=args.werror, pairs=pairs)
    took = time.perf_counter() - t0
    if getattr(module, "warnings", ""):
        print(module.warnings, file=sys.stderr)
    print(module.path)
    for source, registered in module.models.items():
        print(f"  {source} -> {registered}")
    state = "compiled" if module.compiled else "up to date (cache)"
    print(f"{state} in {took:.2f} s", file=sys.stderr)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from .report import analyze_file

    for f in args.files:
        for rep in analyze_file(f, benchmark=args.benchmark):
            print(rep.text())
            print()
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, new_model

    try:
        files = new_model(args.kind, args.name, args.library)
    except ScaffoldError as exc:
        print(f"nmlc new: {exc}", file=sys.stderr)
        return 1
    for f in files:
        print(f)
    print(f"next: edit the model and its spec, then run `pytest {files[0].parent}` (see the contributor guide)",
          file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Run every spec case under the given paths, with progress, then the summary table."""
    try:
        from nmlc_validation.harness import Harness, _spec_results, discover
        from nmlc_validation.results import summary_table
    except ImportError:
        print("nmlc validate: the validation harness (package nmlc_validation) is not installed", file=sys.stderr)
        return 2
    harness = Harness(args.results, None, plots=args.plots, target=args.target)
    specs = list(discover(args.paths))
    results = []
    t0 = time.perf_counter()
    for i, path in enumerate(specs, start=1):
        spec = harness.load(path)
        out = _spec_results(harness, [spec])
        results += out
        for r in out:  # the table only says ERROR/mismatch: say what failed, by how much, and where the plot is
            if r.status != "passed":
                print(r.report(), file=sys.stderr)
        passed = sum(r.status == "passed" for r in out)
        print(f"[{i}/{len(specs)}] {path}: {passed}/{len(out)} cases passed ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr)
    print(summary_table(results))
    return 0 if all(r.status == "passed" for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nmlc", description="NESTML compiler for NEST Simulator")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("check", help="parse and check models; exit 0 if they are valid, 1 otherwise")
    p.add_argument("files", nargs="+")
    p.add_argument("--werror", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("build", help="compile models into a NEST extension module")
    p.add_argument("files", nargs="+")
    p.add_argument("-o", "--output", default=None, help="cache/build folder (default: ~/.cache/nmlc/modules)")
    p.add_argument("--suffix", default="_nestml", help="appended to every registered model name")
    p.add_argument("-j", "--jobs", type=int, default=None, help="parallel compile jobs")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--nest-include", default=None, help="NEST header folder of a NEST built from source")
    where.add_argument("--nest-config", default=None, metavar="PATH",
                       help="the nest-config script of a NEST built from source (its --includes are used)")
    p.add_argument("--werror", action="store_true", help="treat warnings as errors")
    p.add_argument("--target", choices=["nest", "python"], default="nest",
                   help="nest: a NEST extension module (default); python: self-contained NumPy modules")
    p.add_argument("--pair", action="append", metavar="NEURON:SYNAPSE",
                   help="co-generate this neuron with this synapse (repeatable; several synapses per neuron work)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("analyze", help="show how each state variable is integrated, and why")
    p.add_argument("files", nargs="+")
    p.add_argument("--benchmark", action="store_true",
                   help="also integrate the numeric part with an explicit and an implicit method and compare")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("new", help="start a library model: a working skeleton and a spec.yaml with one case")
    p.add_argument("kind", choices=["neuron", "synapse"])
    p.add_argument("name", help="model name (letters, digits, underscores)")
    p.add_argument("--library", default="library", help="the model library folder (default: ./library)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("validate", help="run the behavioural specs (spec.yaml) and print the summary table")
    p.add_argument("paths", nargs="*", default=["library"])
    p.add_argument("--results", default=None, help="results folder (default .nmlc-results)")
    p.add_argument("--plots", choices=["failed", "all", "none"], default="failed")
    p.add_argument("--target", choices=["nest", "python"], default="nest",
                   help="code-generation target the models under test run on (default: nest)")
    p.set_defaults(func=cmd_validate)

    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .diagnostics import NmlcError

    try:
        return args.func(args)
    except NmlcError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
