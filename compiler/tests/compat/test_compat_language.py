"""NESTML spellings of every version the checker accepts, and the `end`-block normalisation.

No NEST build here: each snippet is parsed and checked, and the diagnostics (codes and lines) are
compared with what the language reference promises (docs/language.md, "NESTML versions").
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nmlc.diagnostics import Diagnostics
from nmlc.semantics import check_unit
from nmlc.syntax import parse_text
from nmlc.syntax.legacy import normalise_end_blocks

MODELS = Path(__file__).parent / "models"


def _check(text: str) -> Diagnostics:
    diags = Diagnostics()
    unit = parse_text(textwrap.dedent(text).lstrip("\n"), "<test>", diags)
    if unit is not None:
        check_unit(unit, diags)
    return diags


def _codes(diags: Diagnostics) -> list[tuple[str, int]]:
    return sorted((d.code, d.loc.line) for d in diags.items)


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.nestml")), ids=lambda p: p.stem)
def test_compat_models_check_without_errors(path: Path):
    diags = Diagnostics()
    unit = parse_text(path.read_text(), str(path), diags)
    assert unit is not None, diags.render()
    check_unit(unit, diags)
    assert not diags.has_errors, diags.render()
    # kernels are untyped in NESTML: mixing numbers and quantities in them is not worth a warning
    assert not [d for d in diags.items if d.code == "W0103" and "kernel" in path.stem], diags.render()


# ------------------------------------------------------------------------------------- end blocks
_END_CONSISTENT = """\
neuron n:
  state:
    x real = 0
  end
  update:
    if x > 1:
      x = 0
    elif x < -1:
      x = 1
    else:
      x += 1
    end
  end
end
"""


def test_end_lines_become_blank_and_positions_stay():
    out = normalise_end_blocks(_END_CONSISTENT)
    lines, before = out.split("\n"), _END_CONSISTENT.split("\n")
    assert len(lines) == len(before)
    for old, new in zip(before, lines):
        assert new == ("" if old.strip() == "end" else old)


def test_end_blocks_with_arbitrary_indentation_are_reindented():
    text = "neuron n:\nstate:\n x real = 0\n    y real = x +\\\n       1\nend\nupdate:\n      if x > 1:\n x = 0\n" \
           "        else:\n  x += 1\n   end\nend\nend\n"
    diags = _check(text)
    assert not diags.has_errors, diags.render()
    out = normalise_end_blocks(text)
    assert "    state:" in out and "        x real = 0" in out and "            x = 0" in out
    # a continuation line keeps its offset from the line it continues
    assert out.split("\n")[4] == "           1"


def test_empty_end_block_is_dropped_and_docstring_end_kept():
    text = '"""\nA docstring that mentions\nend\nof the story.\n"""\nneuron n:\n  parameters:\n  end\n' \
           '  state:\n    x real = 0\n  end\n  update:\n    x += 1\n  end\nend\n'
    out = normalise_end_blocks(text)
    assert out.split("\n")[2] == "end"  # inside the docstring
    assert out.split("\n")[6] == "" and out.split("\n")[7] == ""  # the empty parameters block
    assert not _check(text).has_errors


def test_file_without_end_is_unchanged():
    text = (MODELS / "cond_exp_timer.nestml").read_text()
    assert normalise_end_blocks(text) is text


def test_end_as_a_name_is_not_a_block_end():
    diags = _check("""
        model m_neuron:
            state:
                end real = 0
            update:
                end += 1
        """)
    assert not diags.has_errors, diags.render()


# ------------------------------------------------------------------------------------- spellings
def test_nestml2_spellings_shape_function_curr_sum():
    diags = _check("""
        neuron old_style:
          initial_values:
            V_m mV = -70 mV
          end
          equations:
            shape G = exp(-t / tau)
            function I_syn pA = curr_sum(G, spikes) + cond_sum(G, spikes)
            V_m' = -(V_m + 70 mV) / tau + I_syn / C_m
          end
          parameters:
            tau ms = 10 ms
            C_m pF = 250 pF
          end
          input:
            spikes pA <- spike
          end
          update:
            integrate_odes()
          end
        end
        """)
    assert _codes(diags) == [], diags.render()


def test_nestml1_derived_values_in_variable_blocks():
    """`function V_m mV = V_abs + E_L` among the initial values and `alias` parameters are inline
    expressions (V_m stays recordable); `250pF` needs no space."""
    diags = _check("""
        neuron derived:
          initial_values:
            V_abs mV = 0 mV
            function V_m mV = V_abs + E_L
          end
          parameters:
            E_L mV = -70mV
            C_m pF = 250pF
            alias Theta mV = -55mV - E_L
          end
          equations:
            V_abs' = -V_abs / (10 ms) + 100 pA / C_m
          end
          output: spike
          update:
            integrate_odes()
            if V_abs >= Theta:
              V_abs = 0 mV
              emit_spike()
            end
          end
        end
        """)
    assert _codes(diags) == [], diags.render()


def test_typed_port_read_as_summed_weight():
    """NESTML 2-7: `V_m += spikes` for a port typed in mV; a port typed `real` in a quantity warns."""
    diags = _check("""
        model old_reads_neuron:
            state:
                V_m mV = -70 mV
                x pA = 0 pA
            input:
                spikes mV <- spike
                plain real <- spike
                now_s mV <- spike
            update:
                V_m += spikes
                V_m += now_s * s
                x += plain
        """)
    assert _codes(diags) == [("W0103", 12)], diags.render()


def test_untyped_delta_kernel_scaled_per_ms():
    """(mV / pA / ms) * convolve(delta kernel, pA port) in mV/ms, as NESTML read it."""
    diags = _check("""
        model d_neuron:
            state:
                V_m mV = -70 mV
            equations:
                kernel D = delta(t)
                V_m' = -(V_m + 70 mV) / tau + (mV / pA / ms) * convolve(D, spikes)
            parameters:
                tau ms = 10 ms
            input:
                spikes pA <- spike
            update:
                integrate_odes()
        """)
    assert _codes(diags) == [], diags.render()


def test_weight_readings_in_handlers():
    """get_weight(port, t), sift(port, t), sift(port, x) and port.weight without declared attributes."""
    diags = _check("""
        model w_neuron:
            state:
                a pA = 0 pA
                b pA = 0 pA
                c mV = 0 mV
            input:
                spikes pA <- spike
                syn <- spike
            onReceive(spikes):
                a += get_weight(spikes, t) + sift(spikes, t) + spikes.weight
                c += sift(spikes, 1 mV / pA)
            onReceive(syn):
                b += syn.weight * pA
        """)
    assert _codes(diags) == [], diags.render()


def test_emit_spike_arities_in_synapses():
    diags = _check("""
        model arity_synapse:
            state:
                w real = 1
            parameters:
                d ms = 1 ms
            input:
                pre_spikes <- spike
            output:
                spike
            onReceive(pre_spikes):
                emit_spike(w)
                emit_spike()
                emit_spike(w, d)
                deliver_spike(w)
        """)
    assert _codes(diags) == [("E0304", 14)], diags.render()


def test_assignable_internals_derivatives_but_not_parameters():
    """NESTML 4 counters in internals and declared derivatives may be assigned; parameters and
    undeclared derivatives may not (E0207)."""
    diags = _check("""
        model assign_neuron:
            parameters:
                tau ms = 2 ms
            state:
                g nS = 0 nS
                g' nS/ms = 0 nS/ms
                V mV = 0 mV
            internals:
                r integer
            equations:
                g'' = -2 * g' / tau - g / tau**2
                V' = -V / tau
            update:
                integrate_odes()
                r -= 1
                g' += 1 nS/ms
                V' = 0 mV/ms
                tau = 1 ms
        """)
    assert _codes(diags) == [("E0207", 17), ("E0207", 18)], diags.render()


def test_kernel_initial_values_are_untyped():
    """`g$ real = k * (1/tau_r - 1/tau_d)` and `g$ - g / tau` in a two-part kernel: no W0103."""
    diags = _check("""
        model beta_neuron:
            state:
                V_m mV = -70 mV
                g real = 0
                g$ real = 1 / tau_r - 1 / tau_d
            equations:
                kernel g' = g$ - g / tau_r,
                       g$' = -g$ / tau_d
                V_m' = -(V_m + 70 mV) / tau_d + convolve(g, spikes) * mV / ms
            parameters:
                tau_r ms = 0.5 ms
                tau_d ms = 2 ms
            input:
                spikes <- spike
            update:
                integrate_odes()
        """)
    assert _codes(diags) == [], diags.render()


def test_state_initial_value_reading_internal_builds(tmp_path):
    """A state's initial value may read internals (also integer ones and resolution())."""
    from nmlc.build import build

    src = tmp_path / "init_reads_internal.nestml"
    src.write_text(textwrap.dedent("""
        model init_internal_neuron:
            state:
                phase_steps integer = period_steps / 2
                x real = scale * 2
            parameters:
                rate Bq = 10 Bq
            internals:
                period_steps integer = steps(1 / rate)
                h ms = resolution()
                scale real = h / ms
            update:
                phase_steps += 1
        """))
    mod = build([src])
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    mod.install()
    node = nest.Create(mod.models["init_internal_neuron"])
    assert node.get("phase_steps") == 500
    assert node.get("x") == pytest.approx(0.2, abs=1e-15)


def test_vector_spike_port_is_a_clear_error(tmp_path):
    from nmlc.build import build
    from nmlc.diagnostics import NmlcError

    src = tmp_path / "vec.nestml"
    src.write_text(textwrap.dedent("""
        model vec_neuron:
            state:
                x real = 0
            input:
                syn[2] <- spike
            onReceive(syn[1]):
                x += syn[1] * s
        """))
    with pytest.raises(NmlcError) as err:
        build([src])
    assert "E0602" in str(err.value) and "vector spike port" in str(err.value)
