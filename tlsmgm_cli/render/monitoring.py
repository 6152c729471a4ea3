"""What the monitoring formats of ``check`` and ``probe`` share.

* Prometheus: ``prometheus_client`` (imported lazily; a clear error when it is missing)
  and its own exposition code, for node_exporter's textfile collector.
* Nagios/Icinga/Naemon monitoring plugins: one status line ``SERVICE STATUS - text``,
  optionally followed by ``| perfdata``, each perfdata item
  ``'label'=value[UOM];[warn];[crit];[min];[max]`` (the Monitoring Plugins Development
  Guidelines); exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tlsmgm_cli.render.safe import visible

# the monitoring-plugin statuses (Nagios, Icinga, Naemon...)
NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN = 0, 1, 2, 3
NAGIOS_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
DAY_S = 86400.0


def prometheus_client() -> Any:
    """The ``prometheus_client`` module, or a TlsmgmError saying how to get it."""
    try:
        import prometheus_client as module
    except ImportError:
        from tlsmgm_cli.core.errors import TlsmgmError

        raise TlsmgmError("--format prometheus needs the prometheus-client package "
                          "(pip install prometheus-client)") from None
    return module


def seconds_left(not_after: str | None, now: dt.datetime) -> float | None:
    """Seconds from ``now`` until an ISO ``YYYY-MM-DDTHH:MM:SSZ`` notAfter (negative: expired)."""
    if not not_after:
        return None
    when = dt.datetime.strptime(not_after, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return (when - now).total_seconds()


def label_value(text: str) -> str:
    """A Prometheus label value from untrusted text: control characters shown as ``\\xNN``
    (the exposition escapes only backslash, quote and newline, and the output may be a
    terminal)."""
    return visible(text)


def perf_label(text: str) -> str:
    """A perfdata label: no quote, no '=', no '|', no control character (the caller quotes it)."""
    return "".join("_" if c in "'=|" or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F else c for c in text)


def perf_item(label: str, value: float, *, warn: str = "", crit: str = "", minimum: str = "",
              maximum: str = "", uom: str = "", digits: int = 1) -> str:
    """``'label'=value[UOM];[warn];[crit];[min];[max]`` (the label always quoted)."""
    return f"'{perf_label(label)}'={value:.{digits}f}{uom};{warn};{crit};{minimum};{maximum}"


def status_text(text: str) -> str:
    """The free text of a status line: one line, terminal-safe, no '|' (it starts the perfdata)."""
    return visible(text).replace("|", "/")


def status_line(service: str, status: int, text: str, perf: list[str] | None = None) -> str:
    """``SERVICE STATUS - text[ | perfdata...]``."""
    line = f"{service} {NAGIOS_NAMES[status]} - {status_text(text)}"
    if perf:
        line += " | " + " ".join(perf)
    return line
