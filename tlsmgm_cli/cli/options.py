"""Option bundles shared by several commands (decorator factories), and config loading.

Every command that reads a config takes the same options with the same meaning:
``-c/--config`` (env TLSMGM_CONFIG), ``--pp`` (preprocessor), ``--cfg-dir``,
``--opensips-version``, ``--db`` and ``--after-reload``.

Settings files (``check``): ``--settings FILE`` names one; without it, the first
``.tlsmgm.yaml`` next to the config or in the working directory is used. Such a file
is found, not chosen, so it may never run a program: its ``pp`` key is ignored with a
warning (issue 12). ``pp`` comes only from ``--pp`` or a file named with ``--settings``.
The file's values become click's ``default_map`` (``settings_command``), so precedence is
click's: command line (and environment) > settings file > built-in default.

Also shared here: the --dns-server/--dns-try-ipv6 bundle and SIP destination resolution
(``handshake``, ``match --client --dest``), and the --format nagios usage error (UNKNOWN,
exit 3) of ``check`` and ``probe``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from tlsmgm_cli.core.limits import SECONDS_MAX

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


#: the longest wait any seconds option accepts is limits.SECONDS_MAX (a day: a longer one
#: is a typo, and a socket timeout beyond ~1e9 s overflows the platform's time_t)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf: click's range check compares, and
    every comparison with nan is false, so ``--timeout nan`` would pass it (and end in an
    OverflowError or ValueError deep inside socket code). ``what`` words the error:
    "--timeout must be a positive number of seconds (0.01<=x<=86400), not 'nan'"."""

    def __init__(self, *args: Any, what: str = "a finite number", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            name = param.get_error_hint(ctx).strip("'") if param is not None and ctx is not None else "it"
            self.fail(f"{name} must be {self.what} ({self._describe_range()}), not {value!r}", param, ctx)
        return number


def seconds_type(max_s: float = SECONDS_MAX, min_s: float = 0.0) -> click.FloatRange:
    """The type of every timeout/seconds option: a finite number above ``min_s`` (above 0
    when ``min_s`` is 0) and at most ``max_s``; the error names the range."""
    def plain(x: float) -> float:  # 86400, not 86400.0, in the range click shows
        return int(x) if float(x).is_integer() else x

    return FiniteFloatRange(min=plain(min_s), max=plain(max_s), min_open=min_s == 0,
                            what="a positive number of seconds")


def format_option(choices: list[str], default: str = "text") -> Callable[..., Any]:
    return click.option(
        "--format", "-f", "fmt", type=click.Choice(choices), default=default, show_default=True,
        help="Output format: " + ", ".join(choices) + ".")


def dns_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--dns-server and --dns-try-ipv6: how a SIP destination (``handshake TARGET``,
    ``match --client --dest``) is resolved (see ``resolve_destination``)."""
    fn = click.option(
        "--dns-try-ipv6", is_flag=True,
        help="OpenSIPS's dns_try_ipv6=1: AAAA records first (then IPv6 only when there are any).")(fn)
    fn = click.option(
        "--dns-server", metavar="IP[:PORT]",
        help="Send the DNS queries (NAPTR, SRV, A/AAAA) to this server (default: the system "
             "resolver, /etc/resolv.conf, after /etc/hosts).")(fn)
    return fn


def resolve_destination(ctx: click.Context, target: str, *, dns_server: str | None, dns_try_ipv6: bool,
                        timeout: float | None = None, param_hint: str = "TARGET") -> Any:
    """``core.net.sipresolve.resolve_sip_destination`` with the --dns-* options; a target or
    --dns-server that is not one is a usage error naming the option. DNS trouble is not an
    error: it is in the returned ``Resolution`` (``ok``, ``steps``)."""
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.limits import DNS_TIMEOUT_S
    from tlsmgm_cli.core.net.sipresolve import resolve_sip_destination

    wait = DNS_TIMEOUT_S if timeout is None else min(timeout, DNS_TIMEOUT_S)
    try:
        return resolve_sip_destination(target, resolver_address=dns_server, try_ipv6=dns_try_ipv6,
                                       timeout=wait)
    except TlsmgmError as err:
        hint_ = "--dns-server" if str(err).startswith("DNS resolver") else param_hint
        raise click.BadParameter(str(err), ctx=ctx, param_hint=hint_) from None


def resolution_failure(res: Any, *, explained: bool) -> str:
    """Why a SIP destination gave no destination, in one line."""
    step_errors = [s.error for s in res.steps if s.error]
    return f"cannot resolve '{res.target.host}'" + (f": {step_errors[-1]}" if step_errors else "") + \
        (" (--explain shows each step)" if not explained else "")


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


#: the releases whose tls_mgm behaviour tlsmgm reproduces (behaviour §0.1, §10.1: branch 3.5 equals 3.6.0
#: for tls_mgm and tls_openssl; 3.6.8 is the newest modelled release)
SUPPORTED_VERSIONS_TEXT = "3.5.x and 3.6.0 to 3.6.8 (3.6.8 by default)"
_NEWEST_MODELLED = (3, 6, 8)


def is_modelled_version(version: tuple[int, int, int]) -> bool:
    """Whether tlsmgm reproduces OpenSIPS ``version``: any 3.5 release, 3.6.0 to 3.6.8."""
    return version[:2] == (3, 5) or (3, 6, 0) <= version <= _NEWEST_MODELLED


# ---------------------------------------------------------------------------------------
# --format nagios: usage errors are UNKNOWN (3), not 2 (which a monitoring system reads as
# CRITICAL), with the plugin's status line on stdout (``check`` and ``probe``)


def wants_nagios(args: list[str]) -> bool:
    """Whether the command line asks for --format nagios (before it is parsed)."""
    for i, arg in enumerate(args):
        if arg in ("--format", "-f") and i + 1 < len(args) and args[i + 1] == "nagios":
            return True
        if arg in ("--format=nagios", "-fnagios"):
            return True
    return False


def say_unknown(service: str, message: str) -> None:
    """``SERVICE UNKNOWN - message`` on stdout (what Nagios shows), never raising."""
    from tlsmgm_cli import exitcodes
    from tlsmgm_cli.render.monitoring import NAGIOS_UNKNOWN, status_line

    exitcodes.reached(NAGIOS_UNKNOWN)
    try:
        click.echo(status_line(service, NAGIOS_UNKNOWN, message))
    except (OSError, ValueError):
        pass


class NagiosUsageError(click.UsageError):
    """A usage error under --format nagios: the UNKNOWN status line of ``service``, then
    click's usage message on stderr; exit UNKNOWN (3)."""

    exit_code = 3  # render.monitoring.NAGIOS_UNKNOWN (not imported here: --help stays fast)

    def __init__(self, message: str, ctx: click.Context | None = None, *, service: str) -> None:
        super().__init__(message, ctx=ctx)
        self.service = service

    def show(self, file: Any = None) -> None:
        say_unknown(self.service, f"usage: {self.format_message()}")
        super().show(file)


def as_nagios(err: click.UsageError, service: str) -> NagiosUsageError:
    return err if isinstance(err, NagiosUsageError) else NagiosUsageError(
        err.format_message(), ctx=err.ctx, service=service)


def nagios_command(service: str) -> type[click.Command]:
    """A click.Command class whose command-line usage errors become ``NagiosUsageError``
    when the line asks for --format nagios."""

    class NagiosAwareCommand(click.Command):
        def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
            nagios = wants_nagios(args)
            try:
                return super().parse_args(ctx, args)
            except click.UsageError as err:
                if nagios:
                    raise as_nagios(err, service) from None
                raise

    return NagiosAwareCommand


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


def read_settings(config: str, keys: dict[str, str], explicit: str | None = None) -> tuple[dict[str, Any], str | None]:
    """The options of the settings file (``explicit``, i.e. ``--settings FILE``, else the
    first .tlsmgm.yaml next to ``config`` or in the CWD) mapped through ``keys`` (YAML key
    -> parameter name), and its path. ``preprocessor`` (key ``pp``) is dropped with a
    warning unless the file was named with ``--settings``: a file found in a directory
    never runs a program."""
    import os

    from tlsmgm_cli.core.limits import SETTINGS_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

    if explicit is None:
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

    from tlsmgm_cli.core.util.yamlsafe import UnreadableScalar, load_yaml

    try:
        data = load_yaml(raw.decode("utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise _settings_error(path, f"cannot read: {err}".splitlines()[0]) from None
    except RecursionError:  # e.g. 100,000 nested '['
        raise _settings_error(path, "cannot read: nested too deeply") from None
    if not isinstance(data, dict):
        raise _settings_error(path, "expected a mapping of option: value")
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = keys.get(str(key).replace("_", "-"))
        if name is None:
            raise _settings_error(path, f"unknown option '{_cut(str(key))}' (known: {', '.join(keys)})")
        # now: 2025-13-45, warn-days: 9...9 (5,000 digits): YAML reads them as a date or an
        # integer that Python cannot hold
        unreadable = next((v for v in (value if isinstance(value, list) else [value])
                           if isinstance(v, UnreadableScalar)), None)
        if unreadable is not None:
            raise _settings_error(path, f"{key}: {unreadable.describe()}")
        out[name] = value
    if explicit is None and out.get("preprocessor") is not None:
        from tlsmgm_cli.render.safe import visible

        value = out.pop("preprocessor")
        click.echo(f"tlsmgm: warning: {visible(path)}: 'pp: {visible(value)}' ignored: a {SETTINGS_FILE} found "
                   "next to the config or in the working directory never runs a program; pass --pp CMD, "
                   f"or name the file with --settings {visible(path)}", err=True)
    return out, path


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


_FILE_NAGIOS_META = "tlsmgm.settings_nagios"


def settings_command(keys: dict[str, str], nagios_service: str | None = None) -> type[click.Command]:
    """A click.Command class that reads the settings file into click's ``default_map``
    before parsing, so the precedence is click's own: command line (and environment) >
    settings file > built-in default. ``keys`` maps the file's keys to parameter names.
    The file is the one named with --settings, else the first .tlsmgm.yaml next to the
    config (-c, or the first CFG argument) or in the working directory. Its values go
    through the options' own types (a bad value is a usage error naming the file).
    With ``nagios_service``, usage errors under --format nagios (on the command line or in
    the file) become UNKNOWN (``NagiosUsageError``)."""

    class SettingsCommand(click.Command):
        def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
            nagios = nagios_service is not None and wants_nagios(args)
            try:
                settings = self._settings(ctx, args)
                if settings:
                    ctx.default_map = {**(ctx.default_map or {}), **settings}
                rest = super().parse_args(ctx, args)
                self._db_flag_wins(ctx)
                return rest
            except click.UsageError as err:
                if nagios_service is not None and (nagios or ctx.meta.get(_FILE_NAGIOS_META)):
                    raise as_nagios(err, nagios_service) from None
                raise

        def _settings(self, ctx: click.Context, args: list[str]) -> dict[str, Any]:
            """The file's values by parameter name (noting in ``ctx.meta`` when the file
            asks for --format nagios and the command line names no format)."""
            import os

            if ctx.resilient_parsing or any(a in ctx.help_option_names for a in args):
                return {}  # completion or --help: the file plays no part
            try:  # the raw command line, only to find the config and --settings
                opts, _, _ = self.make_parser(ctx).parse_args(args=list(args))
            except click.UsageError:
                return {}  # the real parse reports it
            # click marks options not given with a sentinel: keep only real values
            opts = {k: v for k, v in opts.items() if isinstance(v, (str, list, tuple))}
            configs = opts.get("configs") or ()
            config = (configs[0] if configs else None) or opts.get("config") \
                or os.environ.get("TLSMGM_CONFIG") or DEFAULT_CONFIG
            explicit = opts.get("settings")
            values, path = read_settings(str(config), keys, explicit=None if explicit is None else str(explicit))
            if values.get("fmt") == "nagios" and "fmt" not in opts:
                ctx.meta[_FILE_NAGIOS_META] = True
            # an empty value ("fail-on:") leaves the option unset: the built-in default applies
            values = {name: value for name, value in values.items() if value is not None}
            params = {p.name: p for p in self.params}
            for name, value in list(values.items()):
                param = params[name]
                if isinstance(param, click.Option) and param.is_flag and not isinstance(value, bool):
                    key = next(k for k, v in keys.items() if v == name)
                    raise _settings_error(str(path), f"{key} must be true or false")
                key = next(k for k, v in keys.items() if v == name)
                if param.multiple and not isinstance(value, (list, tuple)):
                    value = [value]
                items = list(value) if param.multiple else [value]
                if any(isinstance(v, (list, tuple, dict, bool)) or v is None for v in items) \
                        and not (isinstance(param, click.Option) and param.is_flag):
                    what = "a list of values" if param.multiple else "one value"
                    raise _settings_error(str(path), f"{key} ({param.get_error_hint(ctx)}): expected {what}, "
                                                     f"not {type(value).__name__}")
                if param.multiple:
                    value = [str(v) for v in items]
                values[name] = value
                try:  # the option's own type says what is valid
                    param.type_cast_value(ctx, value)
                except (click.BadParameter, TypeError, ValueError, ArithmeticError) as err:  # .inf: Overflow
                    why = err.message if isinstance(err, click.BadParameter) else str(err)
                    raise _settings_error(str(path), f"{key} ({param.get_error_hint(ctx)}): {why}") from None
            return values

        @staticmethod
        def _db_flag_wins(ctx: click.Context) -> None:
            """--db URL (or TLSMGM_DB) given by the user wins over the file's no-db."""
            from click.core import ParameterSource

            if ctx.get_parameter_source("no_db") == ParameterSource.DEFAULT_MAP and \
                    ctx.get_parameter_source("db_url") in (ParameterSource.COMMANDLINE,
                                                           ParameterSource.ENVIRONMENT):
                ctx.meta.pop(NO_DB_META, None)

    return SettingsCommand


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
