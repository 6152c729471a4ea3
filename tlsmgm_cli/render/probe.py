"""Output of ``tlsmgm probe``: one block per (listener, SNI), then a summary (text), or
the whole report as JSON. Untrusted strings (SNIs, subjects, server errors) pass through
``visible()`` in text output."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from tlsmgm_cli.render import to_json
from tlsmgm_cli.render.monitoring import (
    DAY_S,
    NAGIOS_CRITICAL,
    NAGIOS_NAMES,
    NAGIOS_OK,
    NAGIOS_UNKNOWN,
    NAGIOS_WARNING,
    perf_item,
    prometheus_client,
    seconds_left,
    status_line,
)
from tlsmgm_cli.render.safe import visible

__all__ = ["NAGIOS_CRITICAL", "NAGIOS_NAMES", "NAGIOS_OK", "NAGIOS_UNKNOWN", "NAGIOS_WARNING", "emit_probe",
           "nagios_text", "probe_text", "prometheus_text", "render_probe", "seconds_left"]

_KIND_TEXT = {"exact": "exact pattern", "wildcard": "a name inside", "unmatched": "a name no pattern matches",
              "no-sni": "no SNI"}


def _sni_text(row: dict[str, Any]) -> str:
    if row["sni"] is None:
        return "no SNI"
    how = row["kind"]
    if how == "wildcard":
        return f"SNI '{visible(row['sni'])}' (inside '{visible(row['pattern'])}' of [{visible(row['pattern_domain'])}])"
    if how == "unlisted":
        return (f"SNI '{visible(row['sni'])}' (a name no specific pattern lists: "
                f"'{visible(row['pattern'])}' of [{visible(row['pattern_domain'])}] matches it)")
    if how == "exact":
        return f"SNI '{visible(row['sni'])}' (exact pattern of [{visible(row['pattern_domain'])}])"
    return f"SNI '{visible(row['sni'])}' ({_KIND_TEXT.get(how, how)})"


def _expected_text(row: dict[str, Any]) -> str:
    if row["expected"] == "selected":
        return f"[{visible(row['expected_domain'])}]"
    if row["expected"] == "rejected":
        return "rejected: fatal alert 112 unrecognized_name"
    return "no TLS answer (no server domain covers the listener)"


def _served_text(row: dict[str, Any]) -> str:
    if row["outcome"] == "selected":
        subject = row["presented_subject"]
        shown = visible(subject) if subject is not None else "(unparsable certificate)"
        if row["presented_sha256"] is None:
            return "handshake completed, no certificate"
        return f"{shown}  sha256 {row['presented_sha256']}"
    if row["outcome"] == "rejected":
        return f"rejected: {visible(row['error'] or row['alert'])}"
    return f"{row['outcome']}: {visible(row['error'] or '')}".rstrip(": ")


def probe_text(report: dict[str, Any]) -> str:
    lines: list[str] = []
    for row in report["results"]:
        head = f"{row['listener']}"
        if row["connect"] != row["listener"]:
            head += f" (via {visible(row['connect'])})"
        lines.append(f"{row['verdict'].upper():<18} {head}  {_sni_text(row)}")
        lines.append(f"  expected  {_expected_text(row)}")
        if row["expected"] == "selected" and row["expected_sha256"]:
            lines.append(f"            {visible(row['expected_subject'])}  sha256 {row['expected_sha256']}")
        lines.append(f"  served    {_served_text(row)}")
        if row["not_after"]:
            lines.append(f"  expires   {row['not_after']}")
        chain = row["chain"]
        if chain is not None:
            if not chain["checked"]:
                lines.append(f"  chain     {visible(chain['text'])}")
            elif chain["ok"]:
                lines.append(f"  chain     ok ({row['chain_length']} sent, verified against "
                             f"{visible(chain['against'])})")
            else:
                lines.append(f"  chain     PROBLEM: {visible(chain['text'])} (X509 error {chain['code']}, "
                             f"depth {chain['depth']}; against {visible(chain['against'])})")
        for note in row["notes"]:
            lines.append(f"  note      {visible(note)}")
    for skip in report["skipped"]:
        lines.append(f"SKIPPED            {skip['listener']}  SNI '{visible(skip['sni'])}': {visible(skip['reason'])}")
    s = report["summary"]
    parts = [f"{s[v]} {v}" for v in ("ok", "wrong-certificate", "unexpected-reject", "unexpected-accept",
                                     "no-answer") if s[v] or v == "ok"]
    tail = f"{s['cases']} handshake{'s' if s['cases'] != 1 else ''} in {s['seconds']:.2f} s: " + ", ".join(parts)
    if s["skipped"]:
        tail += f"; {s['skipped']} name{'s' if s['skipped'] != 1 else ''} not sendable (skipped)"
    if s["not_compared"]:
        tail += f"; {s['not_compared']} certificate{'s' if s['not_compared'] != 1 else ''} not compared"
    if s["timed_out"]:
        tail += "; the total --timeout was reached"
    lines.append(tail)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Monitoring formats

# shared with check: render/monitoring.py


def prometheus_text(report: dict[str, Any], now: dt.datetime | None = None) -> bytes:
    """The node_exporter textfile-collector exposition of a probe report, written by
    prometheus-client's own exposition code."""
    client = prometheus_client()
    CollectorRegistry, Gauge, generate_latest = client.CollectorRegistry, client.Gauge, client.generate_latest

    now = now or dt.datetime.now(dt.timezone.utc)
    reg = CollectorRegistry()
    case = ["listener", "sni"]
    expiry = Gauge("tlsmgm_probe_certificate_expiry_seconds",
                   "Seconds until the notAfter of the leaf certificate the live server presented "
                   "(negative: expired); sni is empty for a handshake without SNI",
                   case + ["domain", "sha256"], registry=reg)
    as_predicted = Gauge("tlsmgm_probe_as_predicted",
                         "1 when the live server did what the config predicts for this listener and SNI",
                         case + ["expected"], registry=reg)
    chain_valid = Gauge("tlsmgm_probe_chain_valid",
                        "1 when the chain served verifies against the predicted domain's CAs",
                        case + ["domain"], registry=reg)
    verdicts = Gauge("tlsmgm_probe_verdicts", "Handshakes per verdict", ["verdict"], registry=reg)
    success = Gauge("tlsmgm_probe_success", "1 when every handshake went as the config predicts",
                    registry=reg)
    duration = Gauge("tlsmgm_probe_duration_seconds", "Seconds the probe run took", registry=reg)
    stamp = Gauge("tlsmgm_probe_timestamp_seconds", "When the probe ran (Unix time)", registry=reg)
    for row in report["results"]:
        labels = (row["listener"], row["sni"] or "")
        as_predicted.labels(*labels, row["expected"]).set(1 if row["verdict"] == "ok" and row["compared"] else 0)
        left = seconds_left(row["not_after"], now)
        if left is not None:
            expiry.labels(*labels, row["expected_domain"] or "", row["presented_sha256"] or "").set(round(left))
        chain = row["chain"]
        if chain is not None and chain["checked"]:
            chain_valid.labels(*labels, row["expected_domain"] or "").set(1 if chain["ok"] else 0)
    summary = report["summary"]
    for verdict in ("ok", "wrong-certificate", "unexpected-reject", "unexpected-accept", "no-answer"):
        verdicts.labels(verdict).set(summary[verdict])
    success.set(1 if summary["ok"] == summary["cases"] and not summary["not_compared"] else 0)
    duration.set(summary["seconds"])
    stamp.set(round(now.timestamp()))
    return generate_latest(reg)


def nagios_text(report: dict[str, Any], warn_days: float, crit_days: float,
                now: dt.datetime | None = None) -> tuple[str, int]:
    """(the one status line with perfdata, the plugin exit status): CRITICAL when any
    handshake did not go as predicted or a certificate served expires within
    ``crit_days``; WARNING within ``warn_days`` (or a certificate not compared)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    summary = report["summary"]
    perf: list[str] = []
    soonest: tuple[float, dict[str, Any]] | None = None
    for row in report["results"]:
        left = seconds_left(row["not_after"], now)
        if left is None:
            continue
        days = left / DAY_S
        if soonest is None or days < soonest[0]:
            soonest = (days, row)
        label = f"days_left {row['listener']} {row['sni'] if row['sni'] is not None else 'no-SNI'}"
        # plugin-guidelines ranges: '30:' alerts when days_left falls below 30 (a bare '30' would
        # alert above 30), as check's perfdata does
        perf.append(perf_item(label, days, warn=f"{warn_days:g}:", crit=f"{crit_days:g}:"))
    bad = summary["cases"] - summary["ok"]
    status = NAGIOS_OK
    problems: list[str] = []
    if bad:
        status = NAGIOS_CRITICAL
        kinds = ", ".join(f"{summary[v]} {v}" for v in ("wrong-certificate", "unexpected-reject",
                                                       "unexpected-accept", "no-answer") if summary[v])
        problems.append(f"{bad} of {summary['cases']} handshakes not as predicted ({kinds})")
    if soonest is not None and soonest[0] <= crit_days:
        status = NAGIOS_CRITICAL
    elif soonest is not None and soonest[0] <= warn_days:
        status = max(status, NAGIOS_WARNING)
    if summary["not_compared"]:
        status = max(status, NAGIOS_WARNING)
        problems.append(f"{summary['not_compared']} certificates not compared")
    if not problems:
        problems.append(f"{summary['cases']} handshakes as predicted")
    if soonest is not None:
        row = soonest[1]
        who = row["presented_subject"] or row["presented_sha256"]
        problems.append(f"next expiry in {soonest[0]:.1f} days ({who} on {row['listener']})")
    return status_line("TLSMGM PROBE", status, ", ".join(problems), perf), status


def render_probe(report: dict[str, Any], fmt: str, *, warn_days: float = 30, crit_days: float = 7
                 ) -> tuple[bytes, int | None]:
    """The output bytes, and the Nagios status for ``nagios`` (else None)."""
    if fmt == "json":
        return (to_json(report) + "\n").encode(), None
    if fmt == "prometheus":
        return prometheus_text(report), None
    if fmt == "nagios":
        line, status = nagios_text(report, warn_days, crit_days)
        return (line + "\n").encode(), status
    return (probe_text(report) + "\n").encode(), None


def emit_probe(data: bytes) -> None:
    click.echo(data.decode(), nl=False)
