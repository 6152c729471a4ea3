"""Option bundles shared by several commands (decorator factories), and config loading.

Every command that reads a config takes the same options with the same meaning:
``-c/--config`` (env TLSMGM_CONFIG), ``--pp`` (preprocessor), ``--cfg-dir``,
``--opensips-version``, ``--db`` and ``--after-reload``.

Settings files (``check``): ``--settings FILE`` names one; without it, the first
``.tlsmgm.yaml`` next to the config or in the working directory is used. Such a file
is found, not chosen, so it may never run a program: its ``pp`` key is ignored with a
warning (issue 12). ``pp`` comes only from ``--pp`` or a file named with ``--settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

DEFAULT_CONFIG = "/etc/opensips/opensips.cfg"
DEFAULT_CFG_DIR = "/etc/opensips/"
DEFAULT_OPENSIPS_VERSION = "3.6.8"
SETTINGS_FILE = ".tlsmgm.yaml"
SETTINGS_META = "tlsmgm.settings"


NO_DB_META = "tlsmgm.no_db"


def _remember_no_db(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[NO_DB_META] = True
    return value


def config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """-c/--config, --pp, --cfg-dir, --opensips-version, --no-db (read by
    ``cli.common.load_domset`` from the context, so commands need no parameter for it)."""
    fn = click.option(
        "--no-db", is_flag=True, expose_value=False, callback=_remember_no_db,
        help="Do not read DB-defined domains, not even from the config's db_url (an offline "
             "run: script domains only).")(fn)
    fn = click.option(
        "--opensips-version", default=DEFAULT_OPENSIPS_VERSION, show_default=True, metavar="X.Y.Z",
        help="OpenSIPS release whose behaviour to reproduce: 3.5.x or 3.6.0 to 3.6.8 (3.6.8 "
             "case-insensitive SNI matching, 3.6.5 cert-less client domains...).")(fn)
    fn = click.option(
        "--cfg-dir", default=DEFAULT_CFG_DIR, show_default=True, metavar="DIR",
        help="OpenSIPS's compile-time CFG_DIR, used for the default certificate "
             "(CFG_DIR/tls/cert.pem) and key (CFG_DIR/tls/ckey.pem). Source builds use "
             "'/usr/local//etc/opensips/'.")(fn)
    fn = click.option(
        "--pp", "preprocessor", metavar="CMD",
        help="Run the program CMD as a preprocessor and read its output, like 'opensips -p CMD' "
             "(e.g. --pp m4, --pp 'cpp -P'). CMD is split into words like a shell line but run "
             "without a shell (for a pipeline: --pp \"sh -c 'sed ... | m4'\"); -v prints it.")(fn)
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
        help="Read DB-defined domains from this tls_mgm table (mysql://, postgres://, "
             "sqlite:///path) instead of the config's db_url. Default: the config's db_url, "
             "if any, as OpenSIPS does at startup (--no-db: none).")(fn)
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
    version = (nums[0], nums[1], nums[2])
    if not is_modelled_version(version):
        raise click.BadParameter(f"OpenSIPS {text.strip()} is not a release tlsmgm models; supported: "
                                 f"{SUPPORTED_VERSIONS_TEXT}", param_hint="--opensips-version")
    return version


#: the releases whose tls_mgm behaviour tlsmgm reproduces (spec §0: branch 3.5 equals 3.6.0
#: for tls_mgm and tls_openssl; 3.6.8 is the newest modelled release)
SUPPORTED_VERSIONS_TEXT = "3.5.x and 3.6.0 to 3.6.8 (3.6.8 by default)"
_NEWEST_MODELLED = (3, 6, 8)


def is_modelled_version(version: tuple[int, int, int]) -> bool:
    """Whether tlsmgm reproduces OpenSIPS ``version``: any 3.5 release, 3.6.0 to 3.6.8."""
    return version[:2] == (3, 5) or (3, 6, 0) <= version <= _NEWEST_MODELLED


# ---------------------------------------------------------------------------------------
# Settings files (.tlsmgm.yaml)


def _remember_settings(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.meta[SETTINGS_META] = value
    return value


def settings_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--settings FILE (read by ``read_settings`` from the context)."""
    return click.option(
        "--settings", metavar="FILE", expose_value=False, callback=_remember_settings,
        help=f"Read options from this settings file (YAML, the keys of {SETTINGS_FILE}) instead of a "
             f"{SETTINGS_FILE} found next to the config or in the working directory. Only a file named "
             "here may set pp (a program tlsmgm runs); a found one's pp is ignored with a warning.")(fn)


def _settings_error(path: str, why: str) -> click.UsageError:
    from tlsmgm_cli.render.safe import visible

    return click.UsageError(f"settings file {visible(path)}: {visible(why)}")


def read_settings(config: str, keys: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    """The options of the settings file (``--settings FILE``, else the first .tlsmgm.yaml
    next to ``config`` or in the CWD) mapped through ``keys`` (YAML key -> parameter name),
    and its path. ``preprocessor`` (key ``pp``) is dropped with a warning unless the file
    was named with ``--settings``: a file found in a directory never runs a program."""
    import os

    from tlsmgm_cli.core.limits import SETTINGS_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

    ctx = click.get_current_context(silent=True)
    explicit = ctx.meta.get(SETTINGS_META) if ctx is not None else None
    if explicit is not None:
        path = str(explicit)
    else:
        found = [os.path.join(d, SETTINGS_FILE) for d in (os.path.dirname(os.path.abspath(config)), os.getcwd())]
        path = next((p for p in found if os.path.isfile(p)), "")
        if not path:
            return {}, None
    try:
        raw = read_bytes_limited(path, limit=SETTINGS_MAX_BYTES, what="settings file")
    except UnsafeInput as err:
        raise click.UsageError(str(err)) from None
    import yaml

    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise _settings_error(path, f"cannot read: {err}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise _settings_error(path, "expected a mapping of option: value")
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = keys.get(str(key).replace("_", "-"))
        if name is None:
            raise _settings_error(path, f"unknown option '{key}' (known: {', '.join(keys)})")
        out[name] = value
    if explicit is None and out.get("preprocessor") is not None:
        from tlsmgm_cli.render.safe import visible

        value = out.pop("preprocessor")
        click.echo(f"tlsmgm: warning: {visible(path)}: 'pp: {visible(value)}' ignored: a {SETTINGS_FILE} found "
                   "next to the config or in the working directory never runs a program; pass --pp CMD, "
                   f"or name the file with --settings {visible(path)}", err=True)
    return out, path


def describe_preprocessor(cmd: str) -> str:
    """The -v line for a --pp run: the argv it runs (no shell), terminal-safe."""
    from tlsmgm_cli.core.cfg.parse import preprocessor_argv
    from tlsmgm_cli.render.safe import visible

    try:
        argv = preprocessor_argv(cmd)
    except ValueError as err:
        return f"preprocessor {visible(cmd)!r} cannot be split into words: {err}"
    import shlex

    return f"running preprocessor (no shell): {visible(shlex.join(argv))}"
