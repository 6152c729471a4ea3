"""The TLS domain model: one ``TlsDomain`` per server_domain/client_domain (or DB row),
and the ``DomainSet`` that holds them in OpenSIPS's list order.

Raw fields hold what the config (or DB row) set, ``None`` meaning "never set". The
``eff_*`` accessors apply OpenSIPS 3.6.8's defaults (behaviour §2.7, §2.8): use them for anything that
describes behaviour. ``locs`` maps a parameter name to where it was last set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tlsmgm_cli.core.errors import Diagnostic, Loc

SERVER = "server"
CLIENT = "client"
DEFAULT_CA_DIR = "/etc/pki/CA/"

# per-domain parameters that take a "[dom]value" string (behaviour §2.2, §2.3), in tls_list order
PER_DOMAIN_PARAMS = (
    "match_ip_address", "match_sip_domain", "tls_method", "verify_cert", "require_cert",
    "crl_check_all", "certificate", "private_key", "ca_list", "ca_dir", "crl_dir",
    "ciphers_list", "dh_params", "ec_curve",
)


@dataclass(slots=True)
class TlsDomain:
    name: str
    side: str  # SERVER | CLIENT
    source: str = "script"  # "script" | "db"
    loc: Loc | None = None  # where server_domain/client_domain declared it (DB: None)
    # filters in stored order (OpenSIPS prepends: reverse CSV order, later calls first);
    # None = never set -> ["*"]
    addresses: list[str] | None = None  # canonical "ip:port" or "*"
    sip_domains: list[str] | None = None  # fnmatch patterns
    method: str | None = None  # raw tls_method text; parsed by core.tls.methods
    verify_cert: int | None = None
    require_cert: int | None = None
    crl_check_all: int | None = None
    certificate: str | None = None  # script: a path; DB: PEM text
    private_key: str | None = None
    ca_list: str | None = None
    ca_dir: str | None = None
    crl_dir: str | None = None
    ciphers_list: str | None = None
    dh_params: str | None = None
    ec_curve: str | None = None
    locs: dict[str, Loc] = field(default_factory=dict)
    # DB domains only
    db_id: int | None = None
    db_skip: str | None = None  # why OpenSIPS would skip this row (None = loaded)
    cfg_dir: str = "/etc/opensips/"
    opensips_version: tuple[int, int, int] = (3, 6, 8)

    # ---- effective values (behaviour §2.7, §2.8) ---------------------------------
    @property
    def key(self) -> tuple[str, str]:
        return (self.side, self.name)

    @property
    def eff_addresses(self) -> list[str]:
        return self.addresses if self.addresses is not None else ["*"]

    @property
    def eff_sip_domains(self) -> list[str]:
        return self.sip_domains if self.sip_domains is not None else ["*"]

    @property
    def eff_verify_cert(self) -> bool:
        return bool(self.verify_cert) if self.verify_cert is not None else True

    @property
    def eff_require_cert(self) -> bool:
        if self.require_cert is not None:
            return bool(self.require_cert)
        return self.side == SERVER

    @property
    def eff_crl_check_all(self) -> bool:
        return bool(self.crl_check_all) if self.crl_check_all is not None else False

    @property
    def from_db(self) -> bool:
        return self.source == "db"

    @property
    def eff_certificate(self) -> str | None:
        """The certificate file (script) or PEM (DB); the server default is a *file*."""
        if self.certificate:
            return self.certificate
        if self.side == CLIENT and self.opensips_version >= (3, 6, 5):
            return None
        return self.cfg_dir + "tls/cert.pem"

    @property
    def certificate_is_default(self) -> bool:
        return not self.certificate and self.eff_certificate is not None

    @property
    def eff_private_key(self) -> str | None:
        if self.private_key:
            return self.private_key
        if self.side == CLIENT and self.eff_certificate is None:
            return None
        return self.cfg_dir + "tls/ckey.pem"

    @property
    def private_key_is_default(self) -> bool:
        return not self.private_key and self.eff_private_key is not None

    @property
    def eff_ca_dir(self) -> str:
        return self.ca_dir or DEFAULT_CA_DIR

    @property
    def eff_method(self) -> str:
        """The raw method text OpenSIPS parses ("SSLv23" when unset or empty)."""
        return self.method if self.method else "SSLv23"

    def file_is_content(self, param: str) -> bool:
        """DB blobs (certificate, private_key, ca_list, dh_params) hold PEM content."""
        return self.from_db and param in ("certificate", "private_key", "ca_list", "dh_params") \
            and bool(getattr(self, param))

    def where(self, param: str | None = None) -> Loc | None:
        """Location of a parameter's last setting, else of the declaration."""
        if param and param in self.locs:
            return self.locs[param]
        return self.loc

    def label(self) -> str:
        return f"{self.side} domain [{self.name}]"


@dataclass(slots=True)
class GlobalParams:
    """tls_mgm's global (un-prefixed) parameters, ``None`` = not set."""

    tls_library: str = "auto"
    client_tls_domain_avp: str | None = None
    client_sip_domain_avp: str | None = None
    db_url: str | None = None
    db_table: str = "tls_mgm"
    columns: dict[str, str] = field(default_factory=dict)  # modparam name -> column name
    locs: dict[str, Loc] = field(default_factory=dict)


@dataclass(slots=True)
class DomainSet:
    """All domains, each list in OpenSIPS's list order (DB rows first, then script
    domains, each group in reverse definition order)."""

    server: list[TlsDomain] = field(default_factory=list)
    client: list[TlsDomain] = field(default_factory=list)
    globals: GlobalParams = field(default_factory=GlobalParams)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    config: Any = None  # the ParsedConfig read, if any
    cfg_dir: str = "/etc/opensips/"
    opensips_version: tuple[int, int, int] = (3, 6, 8)
    after_reload: bool = False
    loaded_modules: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[TlsDomain]:
        """Client domains then server domains (tls_list order)."""
        return self.client + self.server

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def find(self, name: str, side: str | None = None) -> TlsDomain | None:
        """Exact, case-sensitive name lookup; with no side, server first (like OpenSIPS)."""
        sides = [side] if side else [SERVER, CLIENT]
        for s in sides:
            for d in (self.server if s == SERVER else self.client):
                if d.name == name:
                    return d
        return None

    def active(self, side: str) -> list[TlsDomain]:
        """Domains OpenSIPS would actually hold (DB rows it skips left out)."""
        return [d for d in (self.server if side == SERVER else self.client) if d.db_skip is None]
