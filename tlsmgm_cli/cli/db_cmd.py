"""tlsmgm db: manage the tls_mgm SQL table (init, import, add/update/remove, export)."""

from __future__ import annotations

import click

from tlsmgm_cli.cli.options import config_options
from tlsmgm_cli.core import limits

BACKENDS = ["sqlite", "postgres", "mysql"]


def _db_option(required: bool = True):
    return click.option(
        "--db", "db_url", metavar="URL", envvar="TLSMGM_DB", required=required,
        help="The database: mysql://user:pass@host:port/db, postgres://user:pass@host/db or "
             "sqlite:///abs/path.db (env TLSMGM_DB). The password is never printed. A server "
             f"must answer within {limits.DB_CONNECT_TIMEOUT_S:g} s; a lock held by another "
             f"connection is waited for {limits.DB_LOCK_TIMEOUT_S:g} s.")


_table_option = click.option(
    "--table", metavar="NAME", default=None,
    help="Table name (default: the config's db_table, else tls_mgm).")
_force_option = click.option(
    "--force", is_flag=True, help="Write even when validation finds errors OpenSIPS would trip on.")


@click.group("db")
def db_group() -> None:
    """Manage the tls_mgm SQL table (SQLite, PostgreSQL, MySQL).

    OpenSIPS reads TLS domains from this table at startup and on MI tls_reload. These
    commands create it exactly as OpenSIPS's schema version 3 does, and write rows only
    after checking them the way OpenSIPS will load them (PEM content in the BLOBs, a key
    that matches its certificate, a method OpenSIPS parses...).

    \b
    Examples:
      tlsmgm db init --db sqlite:///var/lib/opensips/opensips.db
      tlsmgm db import -c opensips.cfg --db mysql://opensips:pw@db/opensips --dry-run
      tlsmgm db add --db URL sip.example.com server certificate=/etc/tls/c.pem private_key=/etc/tls/k.pem
      tlsmgm db export --db URL --out /tmp/tls-export

    Python drivers: SQLite is built in; PostgreSQL needs pip install 'tlsmgm[postgres]',
    MySQL/MariaDB pip install 'tlsmgm[mysql]'.
    """


@db_group.command("init")
@_db_option(required=False)
@_table_option
@click.option("--print-sql", is_flag=True, help="Print the SQL instead of running it.")
@click.option("--backend", type=click.Choice(BACKENDS),
              help="With --print-sql and no --db: the backend whose SQL to print (default: all).")
def init_cmd(db_url, table, print_sql, backend):
    """Create the tls_mgm table (schema version 3) and its version row.

    OpenSIPS's standard 'version' table is created too when it is absent. Refuses to
    touch an existing table. Exit status: 0 created, 1 database errors (unreachable,
    refused, the table exists), 2 usage errors (a malformed --db URL or table name).
    """
    from tlsmgm_cli.core.db.schema import DEFAULT_TABLE, init_script

    table = table or DEFAULT_TABLE
    if print_sql:
        if db_url:
            from tlsmgm_cli.core.db.url import parse_db_url

            backend = parse_db_url(db_url).backend
        for name in [backend] if backend else BACKENDS:
            if not backend:
                click.echo(f"-- ===== {name} =====")
            click.echo(init_script(name, table))
        return
    if not db_url:
        raise click.UsageError("--db URL is required (or use --print-sql)")
    from tlsmgm_cli.core.db.backend import connect

    with connect(db_url, create=True) as db:
        db.init_schema(table)
        click.echo(f"created table {table} (version 3) in {db.url.masked()}")


def _load_script(config, preprocessor, cfg_dir, opensips_version):
    from tlsmgm_cli.cli.common import load_domset_or_exit

    return load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                               opensips_version=opensips_version, use_db=False, fail_on_error=False)


def _open_table(db_url, table, domset=None):
    """Connect and check the table is OpenSIPS's version 3 one."""
    from tlsmgm_cli.core.db.backend import DbError, connect
    from tlsmgm_cli.core.db.schema import DEFAULT_TABLE, TABLE_VERSION

    table = table or (domset.globals.db_table if domset else None) or DEFAULT_TABLE
    db = connect(db_url)
    version = db.table_version(table)
    if version != TABLE_VERSION or not db.table_exists(table):
        db.close()
        raise DbError(f"{db.url.masked()}: no tls_mgm table '{table}' of version {TABLE_VERSION} "
                      f"(version found: {version}); create it with `tlsmgm db init --db URL`")
    return db, table


@db_group.command("import")
@config_options
@_db_option()
@_table_option
@click.option("--domain", "names", multiple=True, metavar="NAME",
              help="Import only this domain (repeatable; server and client domains of that name).")
@click.option("--dry-run", is_flag=True, help="Print the changes that would be written, write nothing.")
@click.option("--allow-errors", "--force", "allow_errors", is_flag=True,
              help="Write even when the config or the rows have errors OpenSIPS would trip on "
                   "(the summary says so). --force is the old name.")
def import_cmd(config, preprocessor, cfg_dir, opensips_version, db_url, table, names, dry_run,
               allow_errors):
    """Turn the config's script domains into tls_mgm rows.

    Certificate, key, CA list and DH params files are read into the BLOB columns (whole
    chains). The config and the domains are validated first; nothing is written when
    there is an error (e.g. "No TLS library module loaded"), unless --allow-errors. Rows
    of the same (domain, type) are updated, others inserted; all in one transaction, so a
    failure leaves the table as it was. Rows are written in declaration order, so
    OpenSIPS lists them in the same order as the script domains.

    Exit status: 0 written (or dry run), 1 errors in the config or the rows (nothing
    written), an unreadable file, or a database error (unreachable, timed out, refused),
    2 usage errors (a malformed --db URL, a --domain the config does not define, a config
    that cannot be read).
    """
    from tlsmgm_cli.core.db.importer import apply_import, plan_import, rows_for, select_domains
    from tlsmgm_cli.core.db.rows import fetch_rows
    from tlsmgm_cli.core.db.validate import row_findings, validate_for_import
    from tlsmgm_cli.render import db as render
    from tlsmgm_cli.render.progress import progress_bar

    domset = _load_script(config, preprocessor, cfg_dir, opensips_version)
    domains = select_domains(domset, names or None)
    # errors of the config as a whole (already printed with the config's diagnostics)
    config_errors = sum(1 for d in domset.errors if d.domain is None)
    errors = config_errors + _stop_on_errors(validate_for_import(domset, [d.key for d in domains]),
                                             allow_errors, already=config_errors)
    rows = rows_for(domains)
    db, table = _open_table(db_url, table, domset)
    with db:
        errors += _stop_on_errors([f for row in rows for f in row_findings(row, db.backend)],
                                  allow_errors, already=errors)
        plan = plan_import(rows, fetch_rows(db, table, domset.globals.columns))
        if dry_run:
            render.print_import_diff(plan)
        else:
            with progress_bar("writing rows", plan.writes) as advance:
                apply_import(db, plan, table, domset.globals.columns, progress=advance)
        render.print_import_summary(plan, table, db.url.masked(), dry_run=dry_run,
                                    allowed_errors=errors)
        _warn_if_exposed(db, table)


def _warn_if_exposed(db, table: str) -> None:
    """Warn (stderr) when the SQLite file holding the table's private keys is readable by
    group or others."""
    from tlsmgm_cli.render import echo_err

    exposed = db.exposed_sqlite_file(table)
    if exposed is not None:
        path, mode = exposed
        echo_err(f"tlsmgm: warning: {path} (mode {mode:04o}) holds private keys and is readable by "
                 f"group/others: chmod 600 {path} (and its -journal/-wal files)")


def _stop_on_errors(findings, allow: bool, *, already: int = 0) -> int:
    """Print the findings; exit 1 when they (with ``already`` errors found before) hold an
    error, unless ``allow`` (--allow-errors). Returns the number of errors allowed."""
    from tlsmgm_cli import exitcodes
    from tlsmgm_cli.render import db as render

    errors = already + sum(1 for f in findings if f.severity == "error")
    if errors and not allow:
        exitcodes.reached(exitcodes.PROBLEMS)
    render.print_findings(findings)
    if errors and not allow:
        click.echo(f"tlsmgm: {errors} error(s): nothing written (--allow-errors writes anyway)", err=True)
        raise click.exceptions.Exit(exitcodes.PROBLEMS)
    return errors - already


def _edit(db_url, table, args, *, mode, force):
    """Parse, check (core.db.edit.plan_edit), render, and write unless refused."""
    from tlsmgm_cli import exitcodes
    from tlsmgm_cli.core.db.edit import REMOVE, apply_edit, parse_edit, plan_edit
    from tlsmgm_cli.core.db.rows import fetch_rows
    from tlsmgm_cli.render import db as render

    request = parse_edit(args, mode)
    db, table = _open_table(db_url, table)
    with db:
        plan = plan_edit(request, fetch_rows(db, table), backend=db.backend)
        render.print_findings(plan.problems)
        if plan.refused and not force:
            exitcodes.reached(exitcodes.PROBLEMS)
            click.echo("tlsmgm: OpenSIPS would not load this row: nothing written "
                       "(--force writes anyway)", err=True)
            raise click.exceptions.Exit(exitcodes.PROBLEMS)
        render.print_sources(plan.sources)
        apply_edit(db, plan, table)
        render.print_edit_done(plan, removed_id=plan.current.id if mode == REMOVE and plan.current else None)
        if mode != REMOVE:
            _warn_if_exposed(db, table)


_ARGS_HELP = """

    Arguments: [DOMAIN [TYPE]] column=value ... with opensips-cli's `tls add` column
    names: match_ip_address, match_sip_domain, method, verify_cert, require_cert,
    certificate, private_key, crl_check_all, crl_dir, ca_list, ca_dir, cipher_list,
    dh_params, ec_curve (domain= and type= work too; TYPE is server or client). The PEM
    columns (certificate, private_key, ca_list, dh_params) take a file path (relative to
    the current directory) and store the file's contents (a regular file of at most 32 MiB;
    the absolute path read is shown). Integer columns take -2147483648..2147483647. NULL
    sets a column to NULL. The row is checked the way OpenSIPS will
    load it; exit status 1 (nothing written) when OpenSIPS would skip it, unless --force.
"""


@db_group.command("add", help="Add one TLS domain row (type defaults to server)." + _ARGS_HELP)
@_db_option()
@_table_option
@_force_option
@click.argument("args", nargs=-1, required=True)
def add_cmd(db_url, table, force, args):
    _edit(db_url, table, args, mode="add", force=force)


@db_group.command("update", help="Change columns of one TLS domain row (TYPE required)." + _ARGS_HELP)
@_db_option()
@_table_option
@_force_option
@click.argument("args", nargs=-1, required=True)
def update_cmd(db_url, table, force, args):
    _edit(db_url, table, args, mode="update", force=force)


@db_group.command("remove")
@_db_option()
@_table_option
@click.argument("args", nargs=-1, required=True)
def remove_cmd(db_url, table, args):
    """Remove one TLS domain row: DOMAIN TYPE (server or client)."""
    _edit(db_url, table, args, mode="remove", force=False)


@db_group.command("export")
@_db_option()
@_table_option
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Directory to write into.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def export_cmd(db_url, table, out_dir, force):
    """Write each row's PEMs to files and a cfg snippet defining the same domains.

    Files: DIR/<server|client>/<slug>/{cert,key,ca_list,dh_params}.pem (keys mode 0600)
    and DIR/tls_mgm.cfg with the modparams. The slug is the domain name made safe for a
    file name (only A-Z a-z 0-9 . _ - kept, others and leading dots become '_'); two
    domains of one side with the same slug refuse the export. Everything or nothing is
    written: the files are staged next to DIR and renamed into place. Nothing is
    overwritten without --force. Rows a modparam cannot express (no name, bad type,
    duplicates, ']' in the name, '' filters) are left out of the snippet with a warning.

    Exit status: 0 every row written, 1 written but some rows left out of the snippet
    (each named in a warning), or nothing written (name clash, full disk, OUT not a
    directory, a database error), 2 usage errors (existing files without --force, a
    malformed --db URL).
    """
    from tlsmgm_cli.core.db.export import export_rows
    from tlsmgm_cli.core.db.rows import fetch_rows
    from tlsmgm_cli.render import db as render

    db, table = _open_table(db_url, table)
    with db:
        rows = fetch_rows(db, table)
        header = f"source: table {table} at {db.url.masked()}"
    from tlsmgm_cli import exitcodes

    result = export_rows(rows, out_dir, force=force, header=header)
    if result.skipped:  # the files are written, but the snippet is not the whole table
        exitcodes.reached(exitcodes.PROBLEMS)
    render.print_export_result(result)
    if result.skipped:
        raise click.exceptions.Exit(exitcodes.PROBLEMS)
