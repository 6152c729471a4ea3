"""The click command tree.

The root group loads each subcommand's module only when that subcommand runs, so that
``tlsmgm --help`` imports nothing heavy (no cryptography, rich, yaml or ssl). Short help
texts for the command list live in ``COMMANDS`` for the same reason; a test checks that
they equal each command's own help.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import sys
import warnings

import click

from tlsmgm_cli import __version__

# name -> (module, attribute, short help shown by `tlsmgm --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "list": ("tlsmgm_cli.cli.list_cmd", "list_cmd", "List every TLS domain as OpenSIPS would hold it."),
    "match": ("tlsmgm_cli.cli.match_cmd", "match_cmd", "Show which TLS domain OpenSIPS picks, and why."),
    "inspect": ("tlsmgm_cli.cli.inspect_cmd", "inspect_cmd", "Show certificate fields as OpenSIPS's $tls_* variables, from files or a live server."),
    "check": ("tlsmgm_cli.cli.check_cmd", "check_cmd", "Validate every TLS domain (a CI linter with stable rules)."),
    "handshake": ("tlsmgm_cli.cli.handshake_cmd", "handshake_cmd", "Connect to a TLS peer as OpenSIPS's client side would."),
    "serve": ("tlsmgm_cli.cli.serve_cmd", "serve_cmd", "Run a local TLS endpoint that picks domains like OpenSIPS."),
    "probe": ("tlsmgm_cli.cli.probe_cmd", "probe_cmd", "Check that the running server serves what the config says."),
    "db": ("tlsmgm_cli.cli.db_cmd", "db_group", "Manage the tls_mgm SQL table (SQLite, PostgreSQL, MySQL)."),
    "gen": ("tlsmgm_cli.cli.gen_cmd", "gen_group", "Generate a test CA, certificates and CRLs."),
    "mi": ("tlsmgm_cli.cli.mi_cmd", "mi_group", "Talk to a running OpenSIPS over MI (tls_list, tls_reload)."),
    "diff": ("tlsmgm_cli.cli.diff_cmd", "diff_cmd", "Compare the live tls_list with the config (drift)."),
    "demo": ("tlsmgm_cli.cli.demo_cmd", "demo_cmd", "Write a self-contained example setup and list it."),
}


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # pragma: no cover
        return False


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n in COMMANDS if _available(n)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        from tlsmgm_cli import exitcodes
        from tlsmgm_cli.core.errors import TlsmgmError

        exitcodes.reset()
        if sys.stdout is None or _closed(1):  # `tlsmgm list >&-`: the output would vanish silently
            _say("tlsmgm: error: standard output is closed; nothing can be written (redirect it, e.g. > FILE)")
            ctx.exit(exitcodes.PROBLEMS)
        try:
            return super().invoke(ctx)
        except TlsmgmError as err:
            exitcodes.reached(err.exit_code)
            _say(f"tlsmgm: error: {_visible(str(err))}")
            ctx.exit(err.exit_code)
        except click.exceptions.Exit as done:
            exitcodes.reached(done.exit_code)
            raise
        except (click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `tlsmgm check | head -2`: keep the status the run had reached
            _quiet_broken_pipe()
            ctx.exit(exitcodes.status_so_far())
        except OSError as err:
            if _is_output_full(err):
                # `tlsmgm list > /dev/full`: the output could not be written
                _output_full()
                ctx.exit(exitcodes.PROBLEMS)
            if getattr(err, "filename", None) is not None:  # the file system said no: not a bug
                where = os.fsdecode(err.filename)
                _say(f"tlsmgm: error: {_visible(where)}: {err.strerror or err}")
                ctx.exit(exitcodes.PROBLEMS)
            _internal_error(ctx, err)
        except UnicodeEncodeError as err:
            if "surrogates not allowed" not in str(err.reason):
                _internal_error(ctx, err)
            # argv or file bytes that are not UTF-8 reached a place that needs text
            bad = _visible(err.object[max(0, err.start - 20):err.end + 20])
            _say(f"tlsmgm: error: '...{bad}...' is not valid UTF-8 and cannot be used here")
            ctx.exit(exitcodes.USAGE)
        except RecursionError as err:  # input nested beyond what any reader here handles
            _say(f"tlsmgm: error: the input is nested too deeply to process ({err})")
            ctx.exit(exitcodes.PROBLEMS)
        except Exception as err:  # noqa: BLE001 - last line of defence: never a traceback
            _internal_error(ctx, err)


def _closed(fd: int) -> bool:
    """Whether the descriptor ``fd`` is not open at all."""
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _visible(text: str) -> str:
    from tlsmgm_cli.render.safe import visible_lines

    return visible_lines(text)


def _say(message: str) -> None:
    """A line on stderr that never raises (stderr may be a closed pipe or a full device)."""
    try:
        click.echo(message, err=True)
    except (OSError, ValueError):
        pass


def _is_output_full(err: OSError) -> bool:
    return err.errno == errno.ENOSPC and getattr(err, "filename", None) is None


def _output_full() -> None:
    """Say that the output could not be written, and drop what is still buffered for it
    (the interpreter's final flush would fail again)."""
    _quiet_broken_pipe()
    _say("tlsmgm: error: cannot write the output: no space left on device")


def _quiet_broken_pipe() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a descriptor
        pass


def _internal_error(ctx: click.Context, err: BaseException) -> None:
    from tlsmgm_cli import exitcodes

    if os.environ.get("TLSMGM_DEBUG"):
        raise err
    click.echo(
        f"tlsmgm: internal error: {type(err).__name__}: {err}\n"
        "(this is a bug in tlsmgm: set TLSMGM_DEBUG=1 to see the traceback, and please report it)",
        err=True,
    )
    ctx.exit(exitcodes.INTERNAL)


def _version_text() -> str:
    import platform
    import ssl  # only for --version

    try:
        from cryptography import __version__ as crypto_version
    except Exception:  # pragma: no cover
        crypto_version = "not installed"
    return (
        f"tlsmgm {__version__}\n"
        f"Python {platform.python_version()}\n"
        f"{ssl.OPENSSL_VERSION}\n"
        f"cryptography {crypto_version}"
    )


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from tlsmgm_cli import exitcodes

    click.echo(_version_text())
    ctx.exit(exitcodes.OK)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the tlsmgm, Python, OpenSSL and cryptography versions and exit.")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors (no hints, no progress).")
@click.option("-v", "--verbose", count=True, help="Say more about what is being done (repeatable).")
@click.option("--no-color", is_flag=True, envvar="TLSMGM_NO_COLOR",
              help="Never colour the output (NO_COLOR in the environment does the same).")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: int, no_color: bool) -> None:
    """tlsmgm - see, check and test OpenSIPS tls_mgm TLS domains before OpenSIPS does.

    tlsmgm reads opensips.cfg (and the tls_mgm SQL table) into the TLS domains that
    OpenSIPS 3.6.8 would hold, and answers the questions operators ask: which domains
    exist (list), which one a connection gets (match), what $tls_* will say about a
    certificate (inspect), what is broken (check), and whether a handshake really works
    (handshake, serve).

    \b
    Start with:   tlsmgm demo              (writes an example setup and lists it)
                  tlsmgm list -c /etc/opensips/opensips.cfg
                  tlsmgm COMMAND --help
    """
    from tlsmgm_cli.render import settings

    if not os.environ.get("TLSMGM_DEBUG"):
        # library deprecation chatter (e.g. cryptography on odd certificates in a system CA
        # bundle) is not for operators, and would pollute machine formats on stderr
        warnings.simplefilter("ignore")
    settings.quiet = quiet
    settings.verbose = verbose
    settings.no_color = no_color or bool(os.environ.get("NO_COLOR"))


def main() -> None:
    """Console-script entry point.

    Output written outside a command run (``--help``, ``--version``, usage errors) can
    also meet a full device or a closed pipe: those end with a one-line error (full) or
    quietly with the status reached (closed pipe), never a traceback."""
    from tlsmgm_cli import exitcodes

    try:
        cli(prog_name="tlsmgm")
    except BrokenPipeError:
        _quiet_broken_pipe()
        sys.exit(exitcodes.status_so_far())
    except OSError as err:
        if not _is_output_full(err):
            raise
        _output_full()
        sys.exit(exitcodes.PROBLEMS)
