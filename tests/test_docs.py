"""Generated docs: completions load and complete in the shells, man pages render, and
the committed files are not stale."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tlsmgm_cli import docs
from tlsmgm_cli.cli import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docs.generate(cli)


@pytest.fixture(scope="module")
def shim_path(tmp_path_factory) -> str:
    """A PATH whose ``tlsmgm`` is this checkout (the completion scripts call it)."""
    bindir = tmp_path_factory.mktemp("bin")
    shim = bindir / "tlsmgm"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tlsmgm_cli "$@"\n')
    shim.chmod(0o755)
    return f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"


# ---- staleness ------------------------------------------------------------------------

def test_committed_docs_are_not_stale(generated):
    have = docs.existing(REPO)
    stale = docs.stale_files(REPO, generated)
    diffs = "".join("".join(difflib.unified_diff(have.get(rel, "").splitlines(True),
                                                 generated.get(rel, "").splitlines(True), rel, rel, n=1))
                    for rel in stale)
    assert not stale, f"stale (run 'python -m tlsmgm_cli.docs'):\n{diffs[:3000]}"
    assert docs.main(["--check", "--root", str(REPO)]) == 0


def test_generation_is_deterministic(generated):
    assert docs.generate(cli) == generated


def test_check_detects_changed_missing_and_obsolete_files(tmp_path, generated, capsys):
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert docs.main(["--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "man" / "tlsmgm-list.1").write_text("old\n")
    (tmp_path / "completions" / "tlsmgm.fish").unlink()
    (tmp_path / "man" / "tlsmgm-gone.1").write_text("a removed command\n")
    capsys.readouterr()
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stale: man/tlsmgm-list.1" in err and "stale: completions/tlsmgm.fish" in err
    assert "stale: man/tlsmgm-gone.1" in err
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert not (tmp_path / "man" / "tlsmgm-gone.1").exists()
    assert docs.main(["--check", "--root", str(tmp_path)]) == 0


def test_one_page_per_command_and_subcommand(generated):
    expected = {"man/tlsmgm.1"}
    root_ctx = click.Context(cli, info_name="tlsmgm")
    for name in cli.list_commands(root_ctx):
        cmd = cli.get_command(root_ctx, name)
        expected.add(f"man/tlsmgm-{name}.1")
        if isinstance(cmd, click.Group):
            expected |= {f"man/tlsmgm-{name}-{sub}.1" for sub in cmd.list_commands(root_ctx)}
    assert {p for p in generated if p.startswith("man/")} == expected
    assert "man/tlsmgm-mi-tls_list.1" in expected and "man/tlsmgm-diff.1" in expected


def test_page_content(generated):
    page = generated["man/tlsmgm-diff.1"]
    assert '.TH "TLSMGM\\-DIFF" "1" "" "tlsmgm ' in page
    assert "tlsmgm\\-diff \\- Compare the live tls_list with the config (drift)." in page
    assert "\\fB\\-c, \\-\\-config CFG\\fR" in page and "\\fB\\-h, \\-\\-help\\fR" in page
    assert "\\fBtlsmgm\\fR(1)" in page
    root = generated["man/tlsmgm.1"]
    assert ".SH COMMANDS" in root and "\\fBtlsmgm\\-mi\\fR(1)" in root


def test_roff_escape_protects_control_lines():
    assert docs.roff_escape(".start\n'quote\nback\\slash-dash") == "\\&.start\n\\&'quote\nback\\eslash\\-dash"


# ---- man ------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_renders_root_page():
    out = subprocess.run(["man", "-l", str(REPO / "man" / "tlsmgm.1")], capture_output=True, text=True,
                         env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat", "PAGER": "cat"},
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "NAME" in out.stdout and "SYNOPSIS" in out.stdout and "COMMANDS" in out.stdout
    assert "tlsmgm [OPTIONS] COMMAND [ARGS]..." in out.stdout


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_every_page_is_warning_free_roff(generated, tmp_path):
    for rel, text in generated.items():
        if not rel.startswith("man/"):
            continue
        out = subprocess.run(["groff", "-man", "-ww", "-z"], input=text, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0 and out.stderr == "", f"{rel}: {out.stderr}"


# ---- completions --------------------------------------------------------------------

def bash(script: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PATH": path}, timeout=120)


def test_bash_completion_loads(shim_path):
    out = bash("source completions/tlsmgm.bash; complete -p tlsmgm", shim_path)
    assert out.returncode == 0, out.stderr
    assert "-F _tlsmgm_completion" in out.stdout and out.stdout.strip().endswith(" tlsmgm")


def complete_bash(words: list[str], path: str) -> list[str]:
    quoted = " ".join(f"'{w}'" for w in words)
    script = (f"source completions/tlsmgm.bash; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
              "_tlsmgm_completion tlsmgm; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = bash(script, path)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_bash_completes_subcommands(shim_path):
    words = complete_bash(["tlsmgm", ""], shim_path)
    assert {"list", "mi", "diff", "gen"} <= set(words)
    assert complete_bash(["tlsmgm", "mi", ""], shim_path) == ["tls_list", "tls_reload"]
    assert complete_bash(["tlsmgm", "di"], shim_path) == ["diff"]


def test_bash_completes_options_and_choices(shim_path):
    assert {"--fifo", "--fifo-reply-dir", "--format"} <= set(complete_bash(["tlsmgm", "diff", "--f"], shim_path))
    assert complete_bash(["tlsmgm", "mi", "tls_list", "--format", ""], shim_path) == ["text", "json"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_parses_its_script():
    out = subprocess.run(["zsh", "-n", str(REPO / "completions" / "_tlsmgm")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def complete_fish(line: str) -> list[str]:
    out = subprocess.run(["fish", "--no-config", "-c", f"source completions/tlsmgm.fish; complete -C{line!r}"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return [row.split("\t")[0] for row in out.stdout.splitlines()]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_the_tree():
    assert {"list", "mi", "diff"} <= set(complete_fish("tlsmgm "))
    assert complete_fish("tlsmgm -q mi ") == ["tls_list", "tls_reload"]
    assert complete_fish("tlsmgm mi tls_list --format ") == ["json", "text"]
    assert {"--fifo", "--fifo-reply-dir", "--format"} <= set(complete_fish("tlsmgm diff -c a.cfg --f"))
    assert "--version" not in complete_fish("tlsmgm diff --")


def test_zsh_script_starts_with_compdef(generated):
    assert generated["completions/_tlsmgm"].startswith("#compdef tlsmgm\n")


def test_readme_generated_tables_are_current():
    """The README's limits and exit-status tables are generated from the code."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "<!-- generated:limits -->" in text and "<!-- generated:exit-status -->" in text
    assert docs.refresh_readme(text) == text, "README tables are stale: run 'python -m tlsmgm_cli.docs'"


def test_readme_limits_table_lists_every_limit():
    from tlsmgm_cli.core import limits

    text = (REPO / "README.md").read_text(encoding="utf-8")
    for what, limit in limits.LIMITS:
        assert f"| {what} | {limit} |" in text
