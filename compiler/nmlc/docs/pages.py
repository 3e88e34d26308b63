"""The catalogue generator: one reST page per library model, the catalogue index and ``catalogue.json``.

``generate_catalogue(library, out_dir, ...)`` finds every ``.nestml`` file under ``library/<kind>/<model>/``,
reads each model (:mod:`.modelinfo`), pairs it with the ``spec.yaml`` that tests it, gets that spec's
validation results (:mod:`.results`: reused when fresh, else run), draws the figures (:mod:`.figures`)
and writes the pages. A page is rewritten only when its text changes, so Sphinx re-reads only what
changed. It is called by the Sphinx extension (:mod:`.sphinx_ext`) and usable on its own.
"""
from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .docstring import Docstring, rst_problems
from .modelinfo import ModelInfo, PortRow, VarRow, read_models, var_math
from .results import SpecOutcome, collect_results

__all__ = ["CatalogueEntry", "CatalogueResult", "generate_catalogue", "pynest_snippet"]

CATALOGUE_SCHEMA = "nmlc-catalogue/1"


@dataclass
class CatalogueEntry:
    """A model and everything its page shows."""

    info: ModelInfo
    category: str  # the folder under library/: neurons, synapses, generators, ...
    spec_path: Path | None = None
    outcome: SpecOutcome | None = None
    figures: dict[str, list] = field(default_factory=dict)  # case -> [Figure]
    thumbnail: str | None = None  # relative to the pages' folder
    partner: ModelInfo | None = None  # synapses: the neuron their spec pairs them with
    partner_page: bool = True  # False when that neuron lies outside the library (it has no page to link)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> str:
        return self.outcome.status if self.outcome else "unvalidated"

    @property
    def display_kind(self) -> str:
        """What the library calls it (``generator`` for library/generators/), else the model's kind."""
        return self.category[:-1] if self.category.endswith("s") else self.info.kind


@dataclass
class CatalogueResult:
    entries: list[CatalogueEntry]
    written: list[Path]
    problems: list[str]  # the site is wrong without a fix: Sphinx warnings
    notes: list[str]  # worth knowing, the pages are still right (e.g. a docstring shown as plain text)
    timings: dict[str, float]
    catalogue: dict[str, Any]


# ----------------------------------------------------------------------------------------------- reST helpers
def esc(text: Any) -> str:
    """Plain text safe inside reST paragraphs and table cells."""
    s = str(text)
    s = re.sub(r"([\\`*_|\[\]<>])", r"\\\1", s)
    return s.replace("\n", " ")


def lit(text: Any) -> str:
    """Inline literal; backquotes inside are replaced, since reST literals cannot escape them."""
    s = str(text).replace("`", "'")
    return f"``{s}``" if s.strip() else ""


def math_role(latex: str) -> str:
    return f":math:`{latex}`"


def heading(text: str, char: str) -> str:
    return f"{text}\n{char * max(len(text), 3)}\n"


def indent(text: str, n: int = 3) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def list_table(header: list[str], rows: list[list[str]], widths: list[int] | None = None,
               cls: str = "nmlc-table") -> str:
    out = [".. list-table::", "   :header-rows: 1", f"   :class: {cls}"]
    if widths:
        out.append("   :widths: " + " ".join(map(str, widths)))
    out.append("")
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            lines = (cell or "").splitlines() or [""]
            prefix = "   * - " if i == 0 else "     - "
            out.append(prefix + lines[0])
            out += ["       " + x if x.strip() else "" for x in lines[1:]]
    return "\n".join(out) + "\n"


def status_role(status: str) -> str:
    word = {"passed": "passed", "failed": "failed", "error": "error", "missing": "not run",
            "unvalidated": "no spec"}.get(status, status)
    return f":nmlc-{'pass' if status == 'passed' else 'fail'}:`{word}`"


def fmt_value(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return esc(x)
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    text = f"{x:.3g}"
    return f"{text} {unit}".rstrip()


# ----------------------------------------------------------------------------------------------- page parts
def _docstring_rst(doc: Docstring, name: str, notes: list[str]) -> str:
    """Description sections as reST (or literal text when a section is not valid reST), then references."""
    out = []
    refs = doc.references
    bodies = " ".join(sec.body for sec in doc.sections if sec.heading.lower() != "references")
    cited = {r.label for r in refs if f"[{r.label}]_" in bodies}
    ref_rst = "\n\n".join(_reference_rst(r, name, r.label in cited) for r in refs)
    for section in doc.sections:
        if section.heading.lower() == "references" or not section.body.strip():
            continue
        title = section.heading or "Description"
        body = _relabel_citations(section.body, refs, name)
        if ".. |" not in body:  # no substitutions defined: |w| is an absolute value, not a substitution
            body = re.sub(r"(?<!\\)\|", r"\\|", body)
        issues = rst_problems(body + "\n\n" + ref_rst)
        if issues:
            notes.append(f"{name}: docstring section '{title}' is not valid reStructuredText ({issues[0]}); "
                         f"shown as plain text")
            body = ".. code-block:: text\n   :class: nmlc-plain\n\n" + indent(section.body)
        if title.lower() in _PAGE_SECTIONS:  # the page has its own section of that name (a table, say)
            title = f"{title}: notes"
        out.append(heading(title, "-") + "\n" + body + "\n")
    if refs:
        out.append(heading("References", "-") + "\n" + ref_rst + "\n")
    return "\n".join(out)


# titles of the sections every model page has; a docstring section of the same name is renamed
_PAGE_SECTIONS = {"equations", "update and event logic", "parameters", "state variables", "internals",
                  "input and output", "recordables", "solver", "validation", "using it from pynest", "source"}


def _ref_label(label: str, name: str) -> str:
    # numeric labels are footnotes (local to the page); other labels are citations, which Sphinx keeps
    # in one namespace for the whole site, so they get the model's name to stay unique
    return label if label.isdigit() else f"{name}-{label}"


def _relabel_citations(body: str, refs: list, name: str) -> str:
    for r in refs:
        if not r.label.isdigit():
            body = body.replace(f"[{r.label}]_", f"[{_ref_label(r.label, name)}]_")
    return body


def _reference_rst(ref, name: str, cited: bool) -> str:
    """A reference cited in the text is a footnote (linked both ways); any other is a labelled paragraph."""
    text = ref.text
    link = ""
    if ref.doi:
        # the DOI becomes one link, however the docstring wrote it (bare, doi:, or as a URL)
        text = re.sub(r"(?:https?://(?:dx\.)?doi\.org/|doi:\s*|DOI:?\s*)?" + re.escape(ref.doi), "", text).strip()
        text = re.sub(r"\s*(DOI|doi)[:\s]*$", "", text).rstrip(" ,;")
        link = f" DOI: `{ref.doi} <https://doi.org/{ref.doi}>`__"
    body = (esc(text).strip() + link).strip()
    if cited:
        return f".. [{_ref_label(ref.label, name)}] {body}"
    return f".. rst-class:: nmlc-ref\n\n[{esc(ref.label)}] {body}"


def _equations_rst(info: ModelInfo) -> str:
    groups = [("ode", "Differential equations"), ("kernel", "Kernels"), ("inline", "Inline expressions")]
    out = []
    for kind, title in groups:
        items = [e for e in info.equations if e.kind == kind]
        if not items:
            continue
        out.append(heading(title, "~"))
        if kind == "kernel":
            out.append("Each kernel is convolved with the spike train of an input port (:math:`\\ast`); nmlc turns "
                       "it into state variables that jump by the spike's weight and follow the kernel's ODE.\n")
        if kind == "inline":
            out.append(":math:`(K \\ast s)` is the convolution of kernel :math:`K` with the spike train at port "
                       ":math:`s`.\n" if any("\\ast" in x for e in items for x in e.latex) else "")
        for e in items:
            for latex in e.latex:
                out.append(".. math::\n\n" + indent(latex) + "\n")
            note = esc(e.description) if e.description else ""
            if e.kind == "inline" and e.recordable:
                note = (note + " " if note else "") + f"(recordable as {lit(e.name)})"
            if note:
                out.append(f".. rst-class:: nmlc-eqnote\n\n{note}\n")
    if not out:
        return ""
    return heading("Equations", "-") + "\n" + "\n".join(out)


def _handlers_rst(info: ModelInfo) -> str:
    if not info.handlers:
        return ""
    out = [heading("Update and event logic", "-")]
    funcs = [h for h in info.handlers if h.kind == "function"]
    for h in info.handlers:
        if h.kind == "function":
            continue
        out.append(heading(h.title, "~"))
        if h.condition_latex:
            out.append(f"Condition: {math_role(h.condition_latex)}\n")
        out.append(esc(h.summary) + "\n")
        out.append(".. code-block:: nestml\n\n" + indent(h.source) + "\n")
    if funcs:
        out.append(heading("Functions", "~"))
        for h in funcs:
            out.append(f"{lit(h.title)}: {esc(h.summary)}\n")
            out.append(".. code-block:: nestml\n\n" + indent(h.source) + "\n")
    return "\n".join(out)


def _var_table(rows: list[VarRow], title: str, with_solver: bool = False, internals: bool = False) -> str:
    if not rows:
        return ""
    header = ["Name", "Symbol", "Unit", "Value" if internals else "Default", "Description"]
    if with_solver:
        header.insert(4, "Solver")
    body = []
    for r in rows:
        name = lit(r.name) + (f" (NEST: {lit(r.nest_name)})" if r.nest_name else "")
        if internals:
            value = math_role(r.definition) if r.definition else fmt_value(r.default)
        else:
            value = fmt_value(r.default) if r.default is not None else "–"
            if r.definition:
                value = f"{math_role(r.definition)} = {value}" if r.default is not None else math_role(r.definition)
        row = [name, math_role(var_math(r.name)), lit(r.unit) if r.unit else "", value, esc(r.description)]
        if with_solver:
            row.insert(4, r.solver or "–")
        body.append(row)
    widths = [18, 14, 8, 18, 12, 30] if with_solver else [18, 14, 8, 20, 40]
    return heading(title, "-") + "\n" + list_table(header, body, widths) + "\n"


def _ports_rst(info: ModelInfo) -> str:
    if not info.ports and not info.output:
        return ""
    out = [heading("Input and output", "-")]
    if info.ports:
        body = []
        for p in info.ports:
            role = ""
            if info.kind == "synapse":
                role = next((k for k, v in info.roles.items() if v and p.name in str(v).split(", ")
                             and k in ("pre", "post", "mod")), "")
                role = {"pre": "presynaptic spikes", "post": "postsynaptic spikes",
                        "mod": "neuromodulator spikes"}.get(role, "")
            body.append([lit(p.name), p.kind, esc(p.qualifiers or role or "–"),
                         "–" if p.receptor is None else str(p.receptor), lit(p.unit) if p.unit else "",
                         esc(p.description)])
        out.append(list_table(["Port", "Kind", "Qualifiers / role", "Receptor", "Unit", "Description"], body,
                              [16, 11, 18, 9, 8, 38]))
    if info.output:
        out.append(f"Output: {lit(info.output)}.\n")
    if info.kind == "neuron" and any(p.receptor for p in info.ports):
        out.append("Connect to a port with ``syn_spec={\"receptor_type\": <receptor>}``.\n")
    return "\n".join(out)


def _recordables_rst(info: ModelInfo) -> str:
    if not info.recordables:
        return ""
    items = ", ".join(lit(r) + (f" ({esc(u)})" if u else "") for r, u in info.recordables)
    return (heading("Recordables", "-") + "\nA ``multimeter`` can record: " + items + ".\n")


def _solver_rst(info: ModelInfo) -> str:
    out = [heading("Solver", "-")]
    if not info.solver_rows:
        out.append("The model has no differential equations: its state changes only in its update block and "
                   "event handlers.\n")
        return "\n".join(out)
    out.append("How ``nmlc analyze`` integrates each state variable, and why:\n")
    out.append(list_table(["State variable", "Solver", "Reason"],
                          [[lit(s), lit(m), esc(r)] for s, m, r in info.solver_rows], [26, 10, 64]))
    out.append("\n.. raw:: html\n\n   <details class=\"nmlc-details\"><summary>Full output of "
               "<code>nmlc analyze</code></summary>\n")
    out.append("\n.. code-block:: text\n\n" + indent(info.analysis_text) + "\n")
    out.append("\n.. raw:: html\n\n   </details>\n")
    return "\n".join(out)


def _expectation_rows(case) -> list[list[str]]:
    rows = []
    for e in case.expectations:
        err = e.get("error")
        rows.append([lit(e.get("label", "")), lit(e["reference"]) if e.get("reference") else "–",
                     status_role("passed" if e.get("passed") else "failed"),
                     fmt_value(err, e.get("unit", "")) if err is not None else "–",
                     esc(e.get("tolerance") or "–"), esc(e.get("message", ""))])
    return rows


def _validation_rst(entry: CatalogueEntry, rel_figdir: str) -> str:
    out = [heading("Validation", "-")]
    outcome = entry.outcome
    if outcome is None or entry.spec_path is None:
        out.append("This model has no ``spec.yaml`` yet, so it is not validated.\n")
        return "\n".join(out)
    spec = outcome.spec
    origin = {"reused": "reused from the last validation run", "ran": "from running the cases for this build",
              "stale": "of an earlier run, older than the model or its spec: not re-run for this build"
              }.get(outcome.origin, outcome.origin)
    desc = esc(" ".join(str(spec.raw.get("description", "")).split())) if isinstance(spec.raw, dict) else ""
    out.append(f"Spec: {lit(entry.spec_path.as_posix())}. {desc}\n")
    out.append(f"{outcome.passed} of {len(outcome.cases)} cases passed (results {origin}). Each figure shows "
               "the model against a reference and the residual with the tolerance band; the table lists every "
               "expectation with the measured error and the tolerance it was checked against.\n")
    summary = []
    for c in outcome.cases:
        failed = [e for e in c.expectations if not e.get("passed")]
        worst = max(c.expectations, key=lambda e: (not e.get("passed"), _ratio(e)), default=None)
        summary.append([f":ref:`{c.name} <{entry.name}-case-{c.name}>`" if c.status != "error" or c.expectations
                        else lit(c.name), status_role(c.status),
                        f"{len(c.expectations) - len(failed)} of {len(c.expectations)}",
                        esc(worst["label"] + ": " + fmt_value(worst.get("error"), worst.get("unit", "")))
                        if worst and worst.get("error") is not None else "–"])
    out.append(list_table(["Case", "Status", "Expectations passed", "Largest error"], summary, [25, 12, 18, 45]))
    for c in outcome.cases:
        out.append(f".. _{entry.name}-case-{c.name}:\n")
        out.append(heading(f"Case {c.name}", "~"))
        case_spec = spec.cases.get(c.name)
        if case_spec is not None:
            out.append(f"{case_spec.duration:g} ms at resolution {case_spec.resolution:g} ms, seed {case_spec.seed}, "
                       f"{len(case_spec.stimuli)} stimuli. Status: {status_role(c.status)}.\n")
        if c.status in ("error", "missing"):
            out.append("The case could not be run:\n\n.. code-block:: text\n\n" + indent(c.message or "no result")
                       + "\n")
            continue
        out.append(list_table(["Expectation", "Reference", "Result", "Measured error", "Tolerance", "Detail"],
                              _expectation_rows(c), [16, 10, 8, 12, 14, 40], "nmlc-table nmlc-small"))
        for fig in entry.figures.get(c.name, []):
            out.append(f".. figure:: {rel_figdir}/{fig.file}\n   :width: 100%\n   :alt: {esc(fig.caption)}\n\n"
                       f"   {fig.caption}\n")
    return "\n".join(out)


def _ratio(e: dict) -> float:
    r = e.get("ratio")
    try:
        return float(r) if r is not None else 0.0
    except (TypeError, ValueError):
        return math.inf


def _build_call() -> str:
    import nmlc

    # `nmlc.build(...)` when the package exports the function, else its home module
    return "nmlc.build" if callable(getattr(nmlc, "build", None)) else "nmlc.build.build"


def _stimulus(spec: Any, kind: str, port: str | None = None) -> dict | None:
    """The first stimulus of ``kind`` (optionally on ``port``) in the spec's cases: realistic values."""
    if spec is None:
        return None
    for case in spec.cases.values():
        for s in case.stimuli:
            if s.kind == kind and (port is None or s.params.get("port") == port):
                return s.params
    return None


def _num(x: Any, default: float) -> float:
    if isinstance(x, (list, tuple)):
        x = x[0] if x else default
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


def pynest_snippet(entry: CatalogueEntry, root: Path) -> str:
    """Python that builds the model with nmlc and runs it in NEST (run from the repository root)."""
    info = entry.info
    spec = entry.outcome.spec if entry.outcome else None
    build = _build_call()
    rel = info.path.resolve().relative_to(root.resolve()).as_posix() if info.path.resolve().is_relative_to(
        root.resolve()) else str(info.path)
    lines = ["import nest", "import nmlc" if build == "nmlc.build" else "import nmlc.build", ""]
    if info.kind == "synapse":
        return "\n".join(lines + _synapse_snippet(entry, spec, rel, build, root))
    lines += [f'module = {build}(["{rel}"])   # compiled once, then taken from the build cache',
              "module.install()                          # again after every nest.ResetKernel()", "",
              f'neuron = nest.Create(module.models["{info.name}"])   # NEST model "{info.registered}"']
    spike_ports = [p for p in info.ports if p.kind == "spike"]
    cont_ports = [p for p in info.ports if p.kind == "continuous"]
    if spike_ports:
        p = spike_ports[0]
        st = _stimulus(spec, "spike_train", p.name) or {}
        w = abs(_num(st.get("weight"), 100.0)) * (-1 if "inhibitory" in p.qualifiers else 1)
        times = st.get("times") or [10.0, 20.0, 30.0]
        syn = {"weight": w, "delay": _num(st.get("delay"), 1.0)}
        if any(q.receptor for q in info.ports):
            syn["receptor_type"] = p.receptor or 0
        lines += [f'spikes = nest.Create("spike_generator", params={{"spike_times": {list(map(float, times[:5]))}}})',
                  f"nest.Connect(spikes, neuron, syn_spec={json.dumps(syn)})   # port {p.name}"]
    if cont_ports:
        p = cont_ports[0]
        dc = _stimulus(spec, "dc", p.name) or {}
        amp = _num(dc.get("amplitude"), 300.0)
        syn = {"receptor_type": p.receptor} if any(q.receptor for q in info.ports) else None
        lines += [f'current = nest.Create("dc_generator", params={{"amplitude": {amp}, "start": 50.0, "stop": 150.0}})',
                  f"nest.Connect(current, neuron{', syn_spec=' + json.dumps(syn) if syn else ''})   # port {p.name}"]
    rec = [r for r, _ in info.recordables if "__" not in r][:2]
    if rec:
        lines += [f'multimeter = nest.Create("multimeter", params={{"record_from": {json.dumps(rec)}, "interval": 0.1}})',
                  "nest.Connect(multimeter, neuron)"]
    lines += ['spike_recorder = nest.Create("spike_recorder")', "nest.Connect(neuron, spike_recorder)", "",
              "nest.Simulate(200.0)",
              'print("spike times:", spike_recorder.events["times"])']
    if rec:
        lines.append(f'print("{rec[0]} at the end:", multimeter.events["{rec[0]}"][-1])')
    return "\n".join(lines)


def _synapse_snippet(entry: CatalogueEntry, spec: Any, rel: str, build: str, root: Path) -> list[str]:
    info = entry.info
    neuron_builtin = spec.model.neuron.nest_builtin if spec is not None and spec.model and spec.model.neuron else None
    partner = entry.partner
    files = [rel]
    if partner is not None:
        prel = partner.path.resolve()
        prel_s = prel.relative_to(root.resolve()).as_posix() if prel.is_relative_to(root.resolve()) else str(prel)
        files = [prel_s, rel]
    # a spec with `cogenerate` validates the co-generated pair: the snippet builds and uses that pair too
    cogen = partner is not None and spec is not None and spec.model is not None and \
        bool(getattr(spec.model, "cogenerate", False))
    pairs = f', pairs=[("{partner.name}", "{info.name}")]' if cogen and partner is not None else ""
    lines = [f"module = {build}({json.dumps(files)}{pairs})   # compiled once, then taken from the build cache",
             "module.install()                          # again after every nest.ResetKernel()", ""]
    neuron_key = f"{partner.name}__with_{info.name}" if cogen and partner is not None else None
    synapse_key = f"{info.name}__with_{partner.name}" if cogen and partner is not None else info.name
    if partner is not None:
        lines.append(f'post = nest.Create(module.models["{neuron_key or partner.name}"])')
    else:
        lines.append(f'post = nest.Create("{neuron_builtin or "iaf_psc_exp"}")')
    syn: dict[str, Any] = {}
    weight_row = next((r for r in info.state + info.parameters if r.nest_name == "weight"), None)
    params = (spec.parameters if spec is not None else {}) or {}
    syn_spec_text = f'"synapse_model": module.models["{synapse_key}"]'
    syn["weight"] = _num(params.get("weight"), weight_row.default if weight_row and weight_row.default else 1.0)
    syn["delay"] = _num(params.get("delay"), 1.0)
    target = spec.model.target_port if spec is not None and spec.model else None
    if partner is not None and target and any(p.receptor for p in partner.ports):
        rec = next((p.receptor for p in partner.ports if p.name == target), 0)
        syn["receptor_type"] = rec
    extra = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in syn.items())
    pre_times = (_stimulus(spec, "spike_train", "pre") or {}).get("times") or [10.0, 60.0, 110.0]
    if info.roles.get("mod"):
        # NEST refuses to connect a neuromodulated synapse that has no volume transmitter
        mod_times = (_stimulus(spec, "spike_train", "mod") or {}).get("times") or [50.0, 100.0]
        lines += [(f"# port {info.roles['mod']}: neuromodulator spikes, which reach the synapse through a volume "
                   "transmitter"),
                  'vt = nest.Create("volume_transmitter")',
                  'modulator = nest.Create("parrot_neuron")',
                  (f'nest.Connect(nest.Create("spike_generator", params={{"spike_times": '
                   f'{list(map(float, mod_times[:6]))}}}), modulator)'),
                  "nest.Connect(modulator, vt)",
                  f'nest.CopyModel(module.models["{synapse_key}"], "modulated_synapse", {{"volume_transmitter": vt}})']
        syn_spec_text = '"synapse_model": "modulated_synapse"'
    lines += ['pre = nest.Create("parrot_neuron")   # relays the generator\'s spikes through the synapse',
              f'stimulus = nest.Create("spike_generator", params={{"spike_times": {list(map(float, pre_times[:6]))}}})',
              "nest.Connect(stimulus, pre)",
              f"nest.Connect(pre, post, syn_spec={{{syn_spec_text}, {extra}}})"]
    lines += ["", "nest.Simulate(200.0)",
              'print("weight:", nest.GetConnections(pre, post).get("weight"))']
    return lines


def _summary_fields(entry: CatalogueEntry, root: Path) -> str:
    info = entry.info
    outcome = entry.outcome
    val = (f"{status_role(outcome.status)} {outcome.passed} of {len(outcome.cases)} cases"
           if outcome else status_role("unvalidated"))
    src = info.path.resolve()
    rel = src.relative_to(root.resolve()).as_posix() if src.is_relative_to(root.resolve()) else str(src)
    kind = entry.display_kind if entry.display_kind == info.kind else f"{entry.display_kind} ({info.kind} in NEST)"
    fields = [(":Kind:", kind), (":NEST model:", lit(info.registered)),
              (":Solver:", ", ".join(info.solvers)), (":Validation:", val), (":Source:", lit(rel))]
    if entry.partner is not None:
        partner = f":doc:`{entry.partner.name}`" if entry.partner_page else lit(entry.partner.name)
        fields.insert(2, (":Validated with:", partner))
    return "\n".join(f"{k} {v}" for k, v in fields) + "\n"


def model_page(entry: CatalogueEntry, root: Path, notes: list[str]) -> str:
    """The reST of one model's page."""
    info = entry.info
    parts = [f".. _model-{info.name}:\n", heading(info.name, "=")]
    if info.docstring.summary:
        parts.append(f".. rst-class:: nmlc-lead\n\n{esc(info.docstring.summary)}\n")
    parts.append(_summary_fields(entry, root))
    parts.append(_docstring_rst(info.docstring, info.name, notes))
    parts.append(_equations_rst(info))
    parts.append(_handlers_rst(info))
    parts.append(_var_table(info.parameters, "Parameters"))
    parts.append(_var_table(info.state, "State variables", with_solver=True))
    parts.append(_var_table(info.internals, "Internals", internals=True))
    parts.append(_ports_rst(info))
    parts.append(_recordables_rst(info))
    parts.append(_solver_rst(info))
    parts.append(_validation_rst(entry, info.name))
    parts.append(heading("Using it from PyNEST", "-") + "\nRun from the repository root:\n\n.. code-block:: python\n\n"
                 + indent(pynest_snippet(entry, root)) + "\n")
    parts.append(heading("Source", "-") + "\n.. code-block:: nestml\n   :linenos:\n\n" + indent(info.source.rstrip())
                 + "\n")
    return "\n".join(p for p in parts if p) + "\n"


def index_page(entries: list[CatalogueEntry]) -> str:
    """The catalogue index: a table of every model with its thumbnail, and the hidden toctree."""
    total = sum(len(e.outcome.cases) for e in entries if e.outcome)
    passed = sum(e.outcome.passed for e in entries if e.outcome)
    intro = (f"{len(entries)} models; {passed} of {total} validation cases pass. Every model page shows the "
             "equations, parameters, the solver chosen for each variable, the validation results with plots, "
             "and how to use the model from PyNEST. The same facts, machine-readable: "
             ":download:`catalogue.json <catalogue.json>` (also at the site's root).\n")
    out = [".. _catalogue:\n", heading("Model catalogue", "="), intro]
    rows = []
    for e in entries:
        thumb = (f".. image:: {e.thumbnail}\n   :width: 150px\n   :alt: {esc(e.name)}\n   :target: {e.name}.html"
                 if e.thumbnail else "")
        cases = f"{e.outcome.passed} / {len(e.outcome.cases)}" if e.outcome else "0"
        rows.append([thumb, f":doc:`{e.name}`", e.display_kind, esc(e.info.docstring.summary or "–"),
                     ", ".join(e.info.solvers), cases, status_role(e.status)])
    out.append(list_table(["Plot", "Model", "Kind", "Description", "Solver", "Validated cases", "Status"], rows,
                          [16, 18, 8, 32, 8, 9, 9], "nmlc-table nmlc-catalogue"))
    out.append(".. toctree::\n   :hidden:\n\n" + "\n".join(f"   {e.name}" for e in entries) + "\n")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- catalogue.json
def _var_json(rows: list[VarRow]) -> list[dict[str, Any]]:
    return [{"name": r.name, "nest_name": r.nest_name or r.name, "unit": r.unit, "default": r.default,
             "definition_latex": r.definition, "description": r.description, **({"solver": r.solver} if r.solver
                                                                                  else {})} for r in rows]


def _port_json(p: PortRow) -> dict[str, Any]:
    return {"name": p.name, "kind": p.kind, "qualifiers": p.qualifiers, "receptor": p.receptor, "unit": p.unit,
            "description": p.description}


def entry_json(entry: CatalogueEntry, root: Path) -> dict[str, Any]:
    info = entry.info
    src = info.path.resolve()
    outcome = entry.outcome
    validation: dict[str, Any] = {"status": entry.status, "cases": 0, "passed": 0, "results": []}
    if outcome is not None:
        validation.update(cases=len(outcome.cases), passed=outcome.passed, origin=outcome.origin,
                          spec=entry.spec_path.as_posix() if entry.spec_path else None,
                          results=[{"case": c.name, "status": c.status,
                                    "expectations": [{k: e.get(k) for k in ("label", "kind", "reference", "passed",
                                                                            "error", "unit", "tolerance")}
                                                     for e in c.expectations]} for c in outcome.cases])
    return {
        "name": info.name, "kind": info.kind, "category": entry.category, "nest_model": info.registered,
        "summary": info.docstring.summary, "description": info.docstring.description,
        "source": src.relative_to(root.resolve()).as_posix() if src.is_relative_to(root.resolve()) else str(src),
        "page": f"models/{info.name}.html",
        "references": [{"label": r.label, "text": r.text, "doi": r.doi, "url": r.url} for r in info.docstring.references],
        "parameters": _var_json(info.parameters), "state": _var_json(info.state),
        "internals": _var_json(info.internals), "ports": [_port_json(p) for p in info.ports],
        "output": info.output, "recordables": [{"name": r, "unit": u} for r, u in info.recordables],
        "solver": {"summary": info.solvers,
                   "per_variable": [{"variable": s, "solver": m, "reason": r} for s, m, r in info.solver_rows]},
        "validated_with": entry.partner.name if entry.partner else None,
        "validation": validation,
    }


# ----------------------------------------------------------------------------------------------- driver
def discover(library: Path) -> list[tuple[str, Path]]:
    """(category, .nestml file) for every model folder ``library/<category>/<model>/``."""
    return [(p.parent.parent.name, p) for p in sorted(library.glob("*/*/*.nestml"))]


def _write_if_changed(path: Path, text: str, written: list[Path]) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    written.append(path)


def _read_outside(path: Path) -> list[ModelInfo]:
    """The models of a partner neuron outside the library, or none when it does not check."""
    from ..diagnostics import NmlcError

    try:
        return read_models(path) if path.is_file() else []
    except NmlcError:
        return []


def _model_spec_map(specs: dict[Path, Any]) -> dict[tuple[Path, str | None], Path]:
    out = {}
    for path, spec in specs.items():
        m = spec.model
        if m is not None and m.nestml is not None:
            out[(Path(m.nestml).resolve(), m.name)] = path
    return out


def _parameters_for(entry: CatalogueEntry, case: str) -> dict[str, float]:
    """Model parameter values for re-evaluating expressions: defaults, then the spec's and the case's overrides."""
    values: dict[str, float] = {}
    infos = [entry.partner, entry.info] if entry.partner else [entry.info]
    for info in infos:
        for r in (*info.parameters, *info.state):
            if r.default is not None:
                values[r.nest_name or r.name] = r.default
    spec = entry.outcome.spec if entry.outcome else None
    if spec is not None:
        c = spec.cases.get(case)
        for d in (spec.neuron_parameters, spec.parameters, c.neuron_parameters if c else {}, c.parameters if c else {}):
            values.update({k: float(v) for k, v in (d or {}).items() if isinstance(v, (int, float))
                           and not isinstance(v, bool)})
    return values


def _units_for(entry: CatalogueEntry) -> dict[str, str]:
    units: dict[str, str] = {}
    for info in filter(None, [entry.partner, entry.info]):
        units.update({r.name: r.unit for r in (*info.parameters, *info.state) if r.unit})
        units.update({r: u for r, u in info.recordables if u})
    return units


def generate_catalogue(library: str | Path, out_dir: str | Path, root: str | Path | None = None,
                       results_dir: str | Path | None = None, run_cases: bool = True, jobs: int = 2,
                       log: Callable[[str], None] = print) -> CatalogueResult:
    """Write ``out_dir/index.rst``, one ``out_dir/<model>.rst`` per model with its figures in
    ``out_dir/<model>/``, and ``out_dir/catalogue.json``. Models that fail to check are reported in
    ``problems`` (and get no page); invalid specs and failing cases show up on the pages."""
    from nmlc_validation import discover as discover_specs
    from nmlc_validation import load_spec

    from ..diagnostics import NmlcError
    from .figures import thumbnail

    library, out_dir = Path(library), Path(out_dir)
    root = Path(root) if root else library.resolve().parent
    results_dir = Path(results_dir) if results_dir else root / ".nmlc-results"
    if not library.is_dir():
        raise FileNotFoundError(f"no model library at {library}")
    timings: dict[str, float] = {}
    problems: list[str] = []
    t0 = time.perf_counter()
    entries: list[CatalogueEntry] = []
    infos_by_path: dict[Path, list[ModelInfo]] = {}
    for category, path in discover(library):
        try:
            infos = read_models(path)
        except NmlcError as exc:
            problems.append(f"{path}: the model does not check, so it has no page:\n{exc}")
            continue
        infos_by_path[path.resolve()] = infos
        entries += [CatalogueEntry(info, category) for info in infos]
    timings["read models"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    spec_files = discover_specs([library])
    specs = {p: load_spec(p, root) for p in spec_files}
    by_model = _model_spec_map(specs)
    outside: dict[Path, list[ModelInfo]] = {}
    for e in entries:
        key_path = e.info.path.resolve()
        only = len(infos_by_path.get(key_path, [])) == 1
        sp = by_model.get((key_path, e.name)) or (by_model.get((key_path, None)) if only else None)
        if sp is None and only:
            sp = next((p for (mp, name), p in by_model.items() if mp == key_path), None)
        e.spec_path = sp.relative_to(root) if sp is not None and sp.is_relative_to(root) else sp
        if sp is not None and specs[sp].model is not None and specs[sp].model.neuron is not None:
            neuron = specs[sp].model.neuron
            if neuron.nestml is not None:
                npath = Path(neuron.nestml).resolve()
                found = infos_by_path.get(npath)
                if found is None:  # a neuron outside the library (e.g. a test neuron): no page of its own
                    found = outside.setdefault(npath, _read_outside(npath))
                    e.partner_page = False
                e.partner = next((i for i in found if i.name == (neuron.name or Path(neuron.nestml).stem)), None)
    outcomes = collect_results(sorted({Path(specs_path) for specs_path in specs}), root, results_dir,
                               run=run_cases, jobs=jobs, log=log) if specs else {}
    for e in entries:
        if e.spec_path is not None:
            e.outcome = outcomes.get(root / e.spec_path if not e.spec_path.is_absolute() else e.spec_path)
    timings["validation results"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    jobs_list = []
    for e in entries:
        if e.outcome is None:
            continue
        for c in e.outcome.cases:
            if c.json_path is not None and c.status not in ("error", "missing"):
                jobs_list.append((e.name, c.name, str(e.outcome.spec_path), str(root), str(c.json_path),
                                  str(out_dir / e.name), _parameters_for(e, c.name), _units_for(e)))
    for (model, case), figs in _draw_all(jobs_list, jobs).items():
        if isinstance(figs, str):  # a figure must never take the page (or the build) down with it
            problems.append(f"{model}: figures of case {case} failed: {figs}")
        else:
            next(e for e in entries if e.name == model).figures[case] = figs
    for e in entries:
        figdir = out_dir / e.name
        first = next((f for figs in e.figures.values() for f in figs if f.kind == "overview"), None)
        if first is None:
            first = next((f for figs in e.figures.values() for f in figs), None)
        if first is not None:
            thumbnail(figdir / first.file, figdir / "thumbnail.png")
            e.thumbnail = f"{e.name}/thumbnail.png"
    timings["figures"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    written: list[Path] = []
    notes: list[str] = []
    entries.sort(key=lambda x: (x.category, x.name))
    seen = set()
    for e in entries:
        if e.name in seen:
            problems.append(f"{e.info.path}: a second model named {e.name}: only the first gets a page")
            continue
        seen.add(e.name)
        _write_if_changed(out_dir / f"{e.name}.rst", model_page(e, root, notes), written)
    entries = [e for e in entries if e.name in seen]
    _write_if_changed(out_dir / "index.rst", index_page(entries), written)
    catalogue = {"schema": CATALOGUE_SCHEMA, "generator": f"nmlc {_version()}",
                 "models": [entry_json(e, root) for e in entries]}
    _write_if_changed(out_dir / "catalogue.json", json.dumps(catalogue, indent=1, default=str) + "\n", written)
    for stale in out_dir.glob("*.rst"):  # pages of models that are gone
        if stale.stem != "index" and stale.stem not in seen:
            stale.unlink()
    timings["pages"] = time.perf_counter() - t0
    return CatalogueResult(entries, written, problems, notes, timings, catalogue)


def _figure_job(job: tuple) -> tuple[str, str, list | str]:
    """Draw one case's figures (in a worker process); errors come back as text."""
    from nmlc_validation import load_spec

    from .figures import case_figures

    model, case, spec_path, root, json_path, out_dir, params, units = job
    try:
        spec = load_spec(spec_path, Path(root))
        return model, case, case_figures(spec, case, Path(json_path), Path(out_dir), params, units, model)
    except Exception as exc:  # noqa: BLE001 -- reported as a build warning: one bad case must not stop the rest
        return model, case, f"{type(exc).__name__}: {exc}"


def _draw_all(jobs_list: list[tuple], jobs: int) -> dict[tuple[str, str], list | str]:
    """Every case's figures, in ``jobs`` processes (drawing, not simulating, is the slow part here)."""
    if jobs <= 1 or len(jobs_list) <= 1:
        return {(m, c): figs for m, c, figs in map(_figure_job, jobs_list)}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: the workers inherit sys.path and the imported packages, as in an in-tree Sphinx build
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        return {(m, c): figs for m, c, figs in pool.map(_figure_job, jobs_list)}


def _version() -> str:
    from .. import __version__

    return __version__
