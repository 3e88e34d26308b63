"""Spec loading: YAML line tracking, schema errors and static checks name file, line and YAML path."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from nmlc_validation.schema import load_schema, schema_issues
from nmlc_validation.spec import load_spec
from nmlc_validation.yamlsrc import YamlSyntaxError, load_yaml_with_lines

DATA = Path(__file__).parent / "data"
BROKEN = DATA / "broken"
REPO = Path(__file__).resolve().parents[2]


def _messages(spec) -> list[str]:
    return [str(i) for i in spec.issues]


def test_line_map_and_merge_keys(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("x-base: &b\n  seed: 1\n  threads: 1\ncases:\n  one:\n    <<: *b\n    threads: 2\n    items:\n"
                 "      - a\n      - b\n")
    data, smap = load_yaml_with_lines(f, "a.yaml")
    assert data["cases"]["one"] == {"seed": 1, "threads": 2, "items": ["a", "b"]}  # explicit key overrides merge
    assert smap.line_of(("cases", "one", "threads")) == 7
    assert smap.line_of(("cases", "one", "items", 1)) == 10
    assert smap.line_of(("cases", "one", "missing", "deeper")) == 5  # falls back to the nearest ancestor


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "dup.yaml"
    f.write_text("cases:\n  a: 1\n  a: 2\n")
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml_with_lines(f, "dup.yaml")
    assert str(info.value) == "dup.yaml:3: cases.a: duplicate key (first defined on line 2)"


def test_yaml_syntax_error_becomes_issue(tmp_path: Path) -> None:
    f = tmp_path / "spec.yaml"
    f.write_text("model:\n  nest_builtin: [unclosed\ncases: {}\n")
    spec = load_spec(f, tmp_path)
    assert len(spec.issues) == 1
    assert re.match(r"spec\.yaml:\d+: <root>: YAML syntax error", str(spec.issues[0]))


def test_wrong_key_names_file_line_path_and_suggestion() -> None:
    spec = load_spec(BROKEN / "wrong_key.yaml", REPO)
    msgs = _messages(spec)
    assert ("validation/tests/data/broken/wrong_key.yaml:12: cases.dc_step.stimuli[0].dc.amplitud: unknown key "
            "'amplitud' (did you mean 'amplitude'? allowed: amplitude, port, start, stop)") in msgs
    assert all(i.case_name() == "dc_step" for i in spec.issues)
    # the other case of the same file is intact and can run
    assert spec.case_names == ["dc_step", "other"]
    assert "other" in spec.cases and not spec.issues_for("other")


def test_missing_tolerance_is_a_schema_error() -> None:
    msgs = _messages(load_spec(BROKEN / "missing_tolerance.yaml", REPO))
    assert ("validation/tests/data/broken/missing_tolerance.yaml:17: cases.dc_step.expect[0].trace: "
            "'atol' is a required property") in msgs
    # a reference comparison of a scalar needs both tolerances as well
    assert ("validation/tests/data/broken/missing_tolerance.yaml:21: cases.dc_step.expect[1].firing_rate: "
            "'rtol' is a required property") in msgs


def test_unknown_nestml_model_file() -> None:
    msgs = _messages(load_spec(BROKEN / "unknown_model.yaml", REPO))
    assert any(m.startswith("validation/tests/data/broken/unknown_model.yaml:2: model.nestml: unknown model: file ")
               and "does_not_exist.nestml' does not exist" in m for m in msgs)


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "spec.yaml"
    f.write_text(text)
    return f


HEAD = """model:
  nest_builtin: iaf_psc_exp
  spike_ports: {exc: {receptor: 0, sign: excitatory}}
  current_ports: {I: {receptor: 0}}
"""
CASE = """cases:
  c:
    resolution: 0.1
    duration: 50.0
    seed: 1
    threads: 1
"""


@pytest.mark.parametrize("body, expected", [
    ("    expect:\n      - spike_count: {equals: 0}\n    stimuli:\n      - {dc: {port: I, amplitude: 1}, noise: {}}\n",
     "spec.yaml:14: cases.c.stimuli[0]: give exactly one entry per list item"),
    ("    expect:\n      - spike_count: {}\n",
     "spec.yaml:12: cases.c.expect[0].spike_count: needs at least one of 'equals', 'min', 'max', 'reference'"),
    ("    expect:\n      - spike_count: {equals: 0, window: [10.0, 80.0]}\n",
     "spec.yaml:12: cases.c.expect[0].spike_count.window: window [10.0, 80.0] ends after the case duration (50.0 ms)"),
    ("    expect:\n      - trace: {variable: V_m, reference: nope, rtol: 0, atol: 0}\n    record: {variables: [V_m], interval: 0.1}\n",
     "spec.yaml:12: cases.c.expect[0].trace.reference: unknown reference 'nope' (known: none defined)"),
    ("    expect:\n      - spike_count: {equals: 0}\n    record: {variables: [V_m]}\n",
     "spec.yaml:13: cases.c.record: 'interval' is required when 'variables' is given"),
    ("    expect:\n      - spike_count: {equals: 0}\n    stimuli:\n      - spike_train: {port: exc, times: [10.05], weight: 1.0}\n",
     "spec.yaml:14: cases.c.stimuli[0].spike_train.times: spike time 10.05 ms is not on the simulation grid"),
    ("    expect:\n      - expression: {variable: V_m, expr: 'open(1)', rtol: 0, atol: 1}\n    record: {variables: [V_m], interval: 0.1}\n",
     "spec.yaml:12: cases.c.expect[0].expression.expr: function 'open' is not allowed"),
    ("    expect:\n      - dance: {}\n",
     "spec.yaml:12: cases.c.expect[0].dance: unknown key 'dance' (did you mean 'trace'? allowed: expression, fi_curve"),
])
def test_schema_and_static_messages(tmp_path: Path, body: str, expected: str) -> None:
    spec = load_spec(_write(tmp_path, HEAD + CASE + body), tmp_path)
    msgs = _messages(spec)
    assert any(m.startswith(expected) for m in msgs), msgs


def test_subject_needs_exactly_one_kind(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, "model: {name: x}\n" + CASE + "    expect:\n      - spike_count: {equals: 0}\n"),
                     tmp_path)
    assert "spec.yaml:1: model: needs exactly one of 'nestml', 'nest_builtin'" in _messages(spec)
    assert spec.issues_for("c")  # a spec-wide problem fails every case


def test_nestml_model_needs_an_independent_check(tmp_path: Path) -> None:
    (tmp_path / "m.nestml").write_text("model m:\n")
    text = ("model: {nestml: m.nestml}\nreferences:\n  self: {stored: 'r_{case}.npz', generated_by: model}\n" + CASE
            + "    record: {variables: [V_m], interval: 0.1}\n"
            "    expect:\n      - trace: {variable: V_m, reference: self, rtol: 0, atol: 0}\n")
    msgs = _messages(load_spec(_write(tmp_path, text), tmp_path))
    assert any("every library model needs at least one expectation against a reference that does not go through "
               "nmlc" in m for m in msgs), msgs


def test_schema_rejects_untyped_values() -> None:
    from nmlc_validation.yamlsrc import SourceMap

    issues = schema_issues({"model": {"nest_builtin": "x"}, "cases": {"c": {"resolution": "fast"}}}, SourceMap("f"))
    text = "\n".join(map(str, issues))
    assert "cases.c.resolution: expected a number, got 'fast'" in text
    assert "cases.c: 'duration' is a required property" in text


def _readme_specs() -> list[str]:
    text = (REPO / "specs" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    return [b for b in blocks if b.lstrip().startswith("description:")]


def test_readme_example_covers_every_stimulus_and_expectation_and_validates(tmp_path: Path) -> None:
    schema = load_schema()
    stimulus_kinds = set(schema["$defs"]["stimulus"]["properties"])
    expectation_kinds = set(schema["$defs"]["expectation"]["properties"])
    blocks = _readme_specs()
    assert blocks, "specs/README.md has no complete spec example"
    seen_stimuli: set[str] = set()
    seen_expect: set[str] = set()
    for i, block in enumerate(blocks):
        f = tmp_path / f"ex{i}.yaml"
        f.write_text(block)
        data, smap = load_yaml_with_lines(f, f.name)
        assert schema_issues(data, smap) == [], block
        for case in data["cases"].values():
            seen_stimuli |= {next(iter(s)) for s in case.get("stimuli", [])}
            seen_expect |= {next(iter(e)) for e in case["expect"]}
    assert seen_stimuli == stimulus_kinds
    assert seen_expect == expectation_kinds


def test_kind_follows_the_library_folder_else_the_model() -> None:
    library = REPO / "library"
    assert load_spec(library / "generators" / "inhomogeneous_poisson" / "spec.yaml").kind == "generator"
    assert load_spec(library / "neurons" / "iaf_psc_alpha" / "spec.yaml").kind == "neuron"
    assert load_spec(library / "synapses" / "stdp" / "spec.yaml").kind == "synapse"
    # outside library/ the folder says nothing: the model's own kind
    assert load_spec(DATA / "builtin_iaf_psc_exp" / "spec.yaml").kind == "neuron"
    assert load_spec(DATA / "builtin_stdp_synapse" / "spec.yaml").kind == "synapse"
