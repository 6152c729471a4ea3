"""Helpers shared by commands that read a config."""

from __future__ import annotations

import click

from tlsmgm_cli.cli.options import parse_version


def load_domset_or_exit(config: str, *, preprocessor: str | None, cfg_dir: str, opensips_version: str,
                        db_url: str | None = None, after_reload: bool = False, use_db: bool = True,
                        fail_on_error: bool = True):
    """Load the DomainSet; print its diagnostics on stderr; exit 2 when the config has
    errors OpenSIPS would abort on (unless ``fail_on_error`` is False)."""
    from tlsmgm_cli.core.loader import load_domains
    from tlsmgm_cli.render.diagnostics import print_diagnostics

    version = parse_version(opensips_version)
    domset = load_domains(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                          opensips_version=version, db_url=db_url, use_db=use_db,
                          after_reload=after_reload)
    print_diagnostics(domset.diagnostics)
    if fail_on_error and domset.errors:
        n = len(domset.errors)
        click.echo(f"tlsmgm: {config}: {n} error{'s' if n != 1 else ''} OpenSIPS would refuse to "
                   "start with (see above)", err=True)
        raise click.exceptions.Exit(2)
    return domset
