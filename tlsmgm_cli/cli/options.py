"""Option bundles shared by several commands (decorator factories), and config loading.

Every command that reads a config takes the same options with the same meaning:
``-c/--config`` (env TLSMGM_CONFIG), ``--pp`` (preprocessor), ``--cfg-dir``,
``--opensips-version``, ``--db`` and ``--after-reload``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

DEFAULT_CONFIG = "/etc/opensips/opensips.cfg"
DEFAULT_CFG_DIR = "/etc/opensips/"
DEFAULT_OPENSIPS_VERSION = "3.6.8"


def config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """-c/--config, --pp, --cfg-dir, --opensips-version."""
    fn = click.option(
        "--opensips-version", default=DEFAULT_OPENSIPS_VERSION, show_default=True, metavar="X.Y.Z",
        help="OpenSIPS release whose behaviour to reproduce (3.6.8 case-insensitive SNI matching, "
             "3.6.5 cert-less client domains...).")(fn)
    fn = click.option(
        "--cfg-dir", default=DEFAULT_CFG_DIR, show_default=True, metavar="DIR",
        help="OpenSIPS's compile-time CFG_DIR, used for the default certificate "
             "(CFG_DIR/tls/cert.pem) and key (CFG_DIR/tls/ckey.pem). Source builds use "
             "'/usr/local//etc/opensips/'.")(fn)
    fn = click.option(
        "--pp", "preprocessor", metavar="CMD",
        help="Pipe the config through this preprocessor first, like 'opensips -p CMD' "
             "(e.g. --pp m4, --pp 'cpp -P').")(fn)
    fn = click.option(
        "-c", "--config", "config", envvar="TLSMGM_CONFIG", default=DEFAULT_CONFIG, show_default=True,
        metavar="CFG", help="The opensips.cfg to read (env TLSMGM_CONFIG).")(fn)
    return fn


def db_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--db URL and --after-reload."""
    fn = click.option(
        "--after-reload", is_flag=True,
        help="Order domains as OpenSIPS does after an MI tls_reload (script domains win ties) "
             "instead of as at startup (DB domains win ties).")(fn)
    fn = click.option(
        "--db", "db_url", metavar="URL", envvar="TLSMGM_DB",
        help="Also read DB-defined domains from this tls_mgm table (mysql://, postgres://, "
             "sqlite:///path). Default: the config's db_url, if any.")(fn)
    return fn


def format_option(choices: list[str], default: str = "text") -> Callable[..., Any]:
    return click.option(
        "--format", "-f", "fmt", type=click.Choice(choices), default=default, show_default=True,
        help="Output format: " + ", ".join(choices) + ".")


def _version_part(text: str) -> bool:
    """Whether ``text`` is a whole number 0-999 (leading zeros allowed)."""
    return text.isascii() and text.isdigit() and len(text.lstrip("0")) <= 3


def parse_version(text: str) -> tuple[int, int, int]:
    """'3.6.8' -> (3, 6, 8), '3.6' -> (3, 6, 0); 1 to 3 dot-separated non-negative
    integers, each below 1000. Raises click.BadParameter otherwise."""
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(_version_part(p) for p in parts):
        raise click.BadParameter(f"{text!r} is not a version like 3.6.8 (1 to 3 numbers 0-999 "
                                 "separated by dots)", param_hint="--opensips-version")
    nums = [int(p) for p in parts] + [0] * (3 - len(parts))
    return (nums[0], nums[1], nums[2])
