"""The behaviour reference lives in the repository (docs/opensips-behaviour.md) and the code
cites it (issue 13 items 1 and 6).

* No comment or docstring cites the external spec (``spec §N``, ``tls_mgm.md``,
  ``cfg-grammar.md``): a citation must be readable from a checkout.
* Every section sign in the code belongs to a citation of the behaviour reference
  (``behaviour §N.M``) or of an RFC (``RFC 6125 §6.4``), and every cited behaviour
  section exists as a numbered heading of the document.
* The document's numbering is intact: each heading carries its ``sN.M`` anchor, numbers are
  unique and each section sits in its own chapter.
* Each package of ``core/`` says in its ``__init__`` docstring which modules it holds and
  which behaviour sections it implements, and the new ``__init__`` files import nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "opensips-behaviour.md"
THIS = Path(__file__).resolve()
SOURCE_DIRS = ("tlsmgm_cli", "tests", "bench")
CORE = ROOT / "tlsmgm_cli" / "core"
PACKAGES = ("cfg", "net", "matching", "x509", "tls", "mi", "db", "checks", "util")
# packages that held code in their __init__ before the regrouping; the others stay import-free
INIT_WITH_CODE = ("db", "checks")

SIGN = "\N{SECTION SIGN}"
_HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?) \S")
_ANCHOR = re.compile(r'^<a id="s(\d+(?:\.\d+)?)"></a>$')
_SECTION = re.compile(SIGN + r"\s?(\d+(?:\.\d+)?)")
_EXTERNAL = re.compile(r"(?i)(\bspec\W{0,3}" + SIGN + r"|tls_mgm\.md|cfg-grammar\.md)")
_BEHAVIOUR = re.compile(r"\bbehaviour\b")
_RFC = re.compile(r"\bRFC\s?\d+")


def doc_sections() -> dict[str, int]:
    """Section number -> line of its heading, checking anchors and uniqueness on the way."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    found: dict[str, int] = {}
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if not m:
            continue
        level, number = m.groups()
        assert (level == "###") == ("." in number), f"line {i + 1}: level does not fit {number}"
        assert number not in found, f"section {number} appears twice (lines {found[number]} and {i + 1})"
        anchor = _ANCHOR.match(lines[i - 1] if i >= 1 else "")
        assert anchor and anchor.group(1) == number, f"line {i + 1}: §{number} lacks <a id=\"s{number}\">"
        found[number] = i + 1
    return found


def source_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCE_DIRS:
        base = ROOT / name
        if base.is_dir():
            files.extend(p for p in sorted(base.rglob("*.py")) if p.resolve() != THIS)
    return files


def citations() -> list[tuple[str, int, str, str]]:
    """(file, line, kind, number) for every section sign in the code; kind is
    ``behaviour``, ``rfc`` or ``unattributed`` (no citing word before it on its line)."""
    out: list[tuple[str, int, str, str]] = []
    for path in source_files():
        rel = str(path.relative_to(ROOT))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            out.extend((rel, n, kind, number) for kind, number in classify(line))
    return out


def classify(line: str) -> list[tuple[str, str]]:
    """(kind, number) for each section sign of one line: the citing word nearest before it
    (``behaviour`` or ``RFC NNNN``) decides; a citation list stays on one line."""
    out: list[tuple[str, str]] = []
    for m in _SECTION.finditer(line):
        before = line[:m.start()]
        b = [x.end() for x in _BEHAVIOUR.finditer(before)]
        r = [x.end() for x in _RFC.finditer(before)]
        if not b and not r:
            kind = "unattributed"
        elif r and (not b or r[-1] > b[-1]):
            kind = "rfc"
        else:
            kind = "behaviour"
        out.append((kind, m.group(1)))
    return out


def test_the_behaviour_reference_is_in_the_repository_and_numbered() -> None:
    sections = doc_sections()
    chapters = {s for s in sections if "." not in s}
    assert chapters == {str(i) for i in range(11)}
    for number in sections:
        if "." in number:
            assert number.split(".")[0] in chapters, f"§{number} has no chapter heading"
    assert len(sections) >= 90


def test_no_comment_cites_the_external_spec() -> None:
    offenders = []
    for path in source_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _EXTERNAL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "cite docs/opensips-behaviour.md (behaviour §N.M) instead:\n" + "\n".join(offenders)


def test_every_section_sign_is_a_behaviour_or_rfc_citation() -> None:
    # the classifier first: an external citation, a loose sign, an RFC and a behaviour one
    assert _EXTERNAL.search("# the 64-pattern limit (Spec " + SIGN + "3.1)")
    assert _EXTERNAL.search('"""see ../shared/spec/cfg-grammar.md ' + SIGN + '7"""')
    assert not _EXTERNAL.search("# behaviour " + SIGN + "4.4")
    line = "# exact match (RFC 6125 " + SIGN + "6.4), ranks (behaviour " + SIGN + "4.5, " + SIGN + "4.6); " + SIGN + "3"
    assert classify(line) == [("rfc", "6.4"), ("behaviour", "4.5"), ("behaviour", "4.6"), ("behaviour", "3")]
    assert classify("# " + SIGN + "3.7 Config S") == [("unattributed", "3.7")]
    loose = [f"{f}:{n}: {SIGN}{num}" for f, n, kind, num in citations() if kind == "unattributed"]
    assert not loose, "write 'behaviour §N.M' (or 'RFC NNNN §X') on the same line:\n" + "\n".join(loose)


def test_every_cited_behaviour_section_exists() -> None:
    sections = doc_sections()
    cited = [(f, n, num) for f, n, kind, num in citations() if kind == "behaviour"]
    assert len(cited) >= 100, "the code is expected to cite the behaviour reference throughout"
    missing = [f"{f}:{n}: behaviour {SIGN}{num}" for f, n, num in cited if num not in sections]
    assert not missing, "no such section in docs/opensips-behaviour.md:\n" + "\n".join(missing)


def _init_docstring(package: str) -> tuple[str, ast.Module]:
    tree = ast.parse((CORE / package / "__init__.py").read_text(encoding="utf-8"))
    return ast.get_docstring(tree) or "", tree


@pytest.mark.parametrize("package", PACKAGES)
def test_each_core_package_names_its_modules_and_sections(package: str) -> None:
    doc, tree = _init_docstring(package)
    modules = sorted(p.stem for p in (CORE / package).glob("*.py") if p.stem != "__init__")
    unnamed = [m for m in modules if f"``{m}``" not in doc]
    assert not unnamed, f"core/{package}/__init__.py docstring does not describe: {unnamed}"
    if package != "util":  # util holds primitives, no OpenSIPS behaviour
        assert _SECTION.search(doc) and _BEHAVIOUR.search(doc), f"core/{package}: name its behaviour sections"
    if package not in INIT_WITH_CODE:
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                   and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
        assert not imports, f"core/{package}/__init__.py must not import (keeps --help fast, no cycles)"


def test_core_init_maps_every_package() -> None:
    doc = ast.get_docstring(ast.parse((CORE / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert [p for p in PACKAGES if f"``{p}/``" not in doc] == []
