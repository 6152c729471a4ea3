"""Helpers shared by commands that read a config, and the -v/--verbose lines."""

from __future__ import annotations

import time
from typing import Any

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.options import parse_version


def verbose(message: str, level: int = 1) -> None:
    """A 'tlsmgm: ...' line on stderr shown with -v (level 1) or -vv (level 2); -q wins."""
    from tlsmgm_cli.render import settings

    if settings.verbose >= level and not settings.quiet:
        click.echo(f"tlsmgm: {message}", err=True)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe_loaded(config: str, domset: Any, seconds: float) -> str:
    """'opensips.cfg: read 3 files (main + 2 includes), 12 domains (8 server, 4 client;
    2 from DB), 0.05 s' - what loading a config amounted to."""
    files = list(domset.config.files) if domset.config is not None else []
    includes = len(files) - 1
    read = _plural(len(files), "file") + (f" (main + {_plural(includes, 'include')})" if includes > 0 else "")
    from_db = [d for d in domset.all if d.from_db]
    db_part = ""
    if from_db:
        skipped = sum(1 for d in from_db if d.db_skip is not None)
        db_part = f"; {len(from_db)} from DB" + (f", {skipped} skipped by OpenSIPS" if skipped else "")
    return (f"{config}: read {read}, {_plural(len(domset.all), 'domain')} "
            f"({len(domset.server)} server, {len(domset.client)} client{db_part}), {seconds:.2f} s")


def db_wanted(db_url: str | None, use_db: bool = True) -> bool:
    """Whether DB domains are read: yes by default (the config's db_url, as OpenSIPS does at
    startup), no with --no-db. ``--db URL`` together with ``--no-db`` is a usage error."""
    from click.core import ParameterSource

    from tlsmgm_cli.cli.options import NO_DB_META

    ctx = click.get_current_context(silent=True)
    if ctx is None or not ctx.meta.get(NO_DB_META):
        return use_db
    if db_url and ctx.get_parameter_source("db_url") == ParameterSource.COMMANDLINE:
        raise click.UsageError("--db URL and --no-db contradict each other; give one of them")
    return False


def load_domset(config: str, **options: Any):
    """``core.loader.load_domains`` plus the -v line saying what was read (-vv: each file).
    ``--no-db`` on the command line turns the DB off (see ``db_wanted``)."""
    from tlsmgm_cli.core.loader import load_domains

    use_db = db_wanted(options.get("db_url"), options.pop("use_db", True))
    if not use_db:
        options["db_url"] = None
    options["use_db"] = use_db
    if options.get("preprocessor"):
        from tlsmgm_cli.cli.options import describe_preprocessor

        verbose(describe_preprocessor(str(options["preprocessor"])))
    started = time.perf_counter()
    domset = load_domains(config, **options)
    verbose(describe_loaded(config, domset, time.perf_counter() - started))
    for path in (domset.config.files if domset.config is not None else []):
        verbose(f"  read {path}", level=2)
    return domset


def load_domset_or_exit(config: str, *, preprocessor: str | None, cfg_dir: str, opensips_version: str,
                        db_url: str | None = None, after_reload: bool = False, use_db: bool = True,
                        fail_on_error: bool = True):
    """Load the DomainSet; print its diagnostics on stderr; exit 2 when the config has
    errors OpenSIPS would abort on (unless ``fail_on_error`` is False)."""
    from tlsmgm_cli.render.diagnostics import print_diagnostics

    domset = load_domset(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                         opensips_version=parse_version(opensips_version), db_url=db_url, use_db=use_db,
                         after_reload=after_reload)
    if fail_on_error and domset.errors:
        exitcodes.reached(exitcodes.USAGE)  # before the diagnostics: a closed pipe keeps it
    print_diagnostics(domset.diagnostics)
    if fail_on_error and domset.errors:
        n = len(domset.errors)
        click.echo(f"tlsmgm: {config}: {n} error{'s' if n != 1 else ''} OpenSIPS would refuse to "
                   "start with (see above)", err=True)
        raise click.exceptions.Exit(exitcodes.USAGE)
    return domset
