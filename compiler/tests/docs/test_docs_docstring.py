"""Model docstrings: title, sections, references with DOIs, and the reST validity check."""
from __future__ import annotations

from nmlc.docs.docstring import parse_docstring, rst_problems

DOC = """\
my_model - a neuron that does things

Description
+++++++++++

It integrates [1]_ and fires.

References
++++++++++

.. [1] Rotter S, Diesmann M (1999). Exact digital simulation. Biological Cybernetics 81:381-402.
       DOI: https://doi.org/10.1007/s004220050570
.. [2] Someone (2020). A book. doi:10.1000/xyz-123.
.. [Smith2001] Smith J (2001). No DOI here, see https://example.org/paper.
"""


def test_title_summary_and_sections() -> None:
    doc = parse_docstring(DOC)
    assert doc.title == "my_model - a neuron that does things"
    assert doc.summary == "a neuron that does things"
    assert [s.heading for s in doc.sections] == ["Description", "References"]
    assert doc.description == "It integrates [1]_ and fires."


def test_references_and_dois() -> None:
    refs = parse_docstring(DOC).references
    assert [r.label for r in refs] == ["1", "2", "Smith2001"]
    assert refs[0].doi == "10.1007/s004220050570"
    assert refs[0].text.startswith("Rotter S") and "\n" not in refs[0].text
    assert refs[1].doi == "10.1000/xyz-123"
    assert refs[1].url == "https://doi.org/10.1000/xyz-123"
    assert refs[2].doi is None and refs[2].url == "https://example.org/paper"


def test_unstructured_docstring_is_one_section() -> None:
    doc = parse_docstring("just some words about the model. And more.")
    assert doc.title == "just some words about the model. And more."
    assert doc.sections == [] and doc.references == []
    doc = parse_docstring("m - short\n\nA paragraph without headings. Second sentence.")
    assert doc.summary == "short" and doc.description.startswith("A paragraph")


def test_summary_falls_back_to_the_first_sentence() -> None:
    doc = parse_docstring("Description\n-----------\n\nFirst sentence here. Second one.\n")
    assert doc.summary == "First sentence here."


def test_rst_problems() -> None:
    assert rst_problems("plain *text* with ``code``") == []
    assert rst_problems("a |w| substitution nobody defined")
    assert rst_problems("term\n  definition\nunindented")
