"""A certificate decoded the way ``openssl x509 -text -noout`` shows it, as plain data
(``inspect --text``).

:func:`x509_text` returns a dict: version, serial, signature algorithm, issuer, validity,
subject, public key, fingerprints and every extension. Each extension is
``{"oid", "name", "critical", "parsed", "value", "lines"}``: ``value`` is structured data
(for JSON/YAML), ``lines`` the text lines ``openssl x509 -text`` would print under the
extension's heading (OpenSSL's names and layout). Strings come from the certificate and
are untrusted: renderers escape them for terminals.

The list of extensions is read from the DER itself, so a certificate whose extension
cryptography refuses to decode is still shown: that extension is ``parsed: False`` with
the reason and its raw bytes in hex, and the others are decoded one by one.

Decoding uses cryptography's x509 API only (never the openssl binary).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from typing import Any

from cryptography import x509

from tlsmgm_cli.core.net.addresses import ip_addr2a
from tlsmgm_cli.core.x509.der import DerError, encode_tlv
from tlsmgm_cli.core.x509.der import first as der_first
from tlsmgm_cli.core.x509.tlsvars import (
    asn1_string_to_utf8,
    asn1_time_print,
    name_oneline,
    parse_name,
    parse_tbs,
    short_name,
)

#: how many bytes of an unknown or unparsed extension are shown in hex
HEX_SHOWN_MAX = 256

# OpenSSL's long names (OBJ_nid2ln) of the usual extended key usages
EKU_LONG_NAMES = {
    "1.3.6.1.5.5.7.3.1": "TLS Web Server Authentication",
    "1.3.6.1.5.5.7.3.2": "TLS Web Client Authentication",
    "1.3.6.1.5.5.7.3.3": "Code Signing",
    "1.3.6.1.5.5.7.3.4": "E-mail Protection",
    "1.3.6.1.5.5.7.3.5": "IPSec End System",
    "1.3.6.1.5.5.7.3.6": "IPSec Tunnel",
    "1.3.6.1.5.5.7.3.7": "IPSec User",
    "1.3.6.1.5.5.7.3.8": "Time Stamping",
    "1.3.6.1.5.5.7.3.9": "OCSP Signing",
    "1.3.6.1.5.5.7.3.17": "ipsec Internet Key Exchange",
    "1.3.6.1.5.5.7.3.20": "SIP Domain",
    "1.3.6.1.4.1.311.20.2.2": "Microsoft Smartcard Login",
    "2.5.29.37.0": "Any Extended Key Usage",
}

# OpenSSL's headings of the extensions (OBJ_nid2ln)
EXTENSION_NAMES = {
    "2.5.29.19": "X509v3 Basic Constraints",
    "2.5.29.15": "X509v3 Key Usage",
    "2.5.29.37": "X509v3 Extended Key Usage",
    "2.5.29.17": "X509v3 Subject Alternative Name",
    "2.5.29.18": "X509v3 Issuer Alternative Name",
    "2.5.29.14": "X509v3 Subject Key Identifier",
    "2.5.29.35": "X509v3 Authority Key Identifier",
    "2.5.29.31": "X509v3 CRL Distribution Points",
    "2.5.29.46": "X509v3 Freshest CRL",
    "1.3.6.1.5.5.7.1.1": "Authority Information Access",
    "1.3.6.1.5.5.7.1.11": "Subject Information Access",
    "2.5.29.32": "X509v3 Certificate Policies",
    "2.5.29.30": "X509v3 Name Constraints",
    "2.5.29.36": "X509v3 Policy Constraints",
    "2.5.29.33": "X509v3 Policy Mappings",
    "2.5.29.54": "X509v3 Inhibit Any Policy",
    "1.3.6.1.4.1.11129.2.4.2": "CT Precertificate SCTs",
    "1.3.6.1.4.1.11129.2.4.3": "CT Precertificate Poison",
    "1.3.6.1.4.1.11129.2.4.5": "CT Certificate SCTs",
    "1.3.6.1.5.5.7.1.24": "TLS Feature",
    "1.3.6.1.5.5.7.48.1.5": "OCSP No Check",
}

_SIGNATURE_NAMES = {
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.3.101.112": "ED25519",
    "1.3.101.113": "ED448",
    "1.2.840.10040.4.3": "dsa_with_SHA1",
    "2.16.840.1.101.3.4.3.1": "dsa_with_SHA224",
    "2.16.840.1.101.3.4.3.2": "dsa_with_SHA256",
}

_KEY_ALGORITHM_NAMES = {
    "1.2.840.113549.1.1.1": "rsaEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss",
    "1.2.840.10045.2.1": "id-ecPublicKey",
    "1.2.840.10040.4.1": "dsaEncryption",
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.3.101.112": "ED25519",
    "1.3.101.113": "ED448",
}

# cryptography's curve names -> (OpenSSL's ASN1 OID name, NIST name)
_CURVES = {
    "secp256r1": ("prime256v1", "P-256"),
    "secp384r1": ("secp384r1", "P-384"),
    "secp521r1": ("secp521r1", "P-521"),
    "secp224r1": ("secp224r1", "P-224"),
    "secp192r1": ("prime192v1", "P-192"),
}

_KEY_USAGE = (
    ("digital_signature", "Digital Signature"),
    ("content_commitment", "Non Repudiation"),
    ("key_encipherment", "Key Encipherment"),
    ("data_encipherment", "Data Encipherment"),
    ("key_agreement", "Key Agreement"),
    ("key_cert_sign", "Certificate Sign"),
    ("crl_sign", "CRL Sign"),
)

_OTHERNAME_NAMES = {
    "1.3.6.1.4.1.311.20.2.3": "UPN",
    "1.3.6.1.5.5.7.8.7": "SRVName",
    "1.3.6.1.5.5.7.8.9": "SmtpUTF8Mailbox",
    "1.3.6.1.5.5.7.8.4": "permanentIdentifier",
}

_CRL_REASONS = {
    "key_compromise": "Key Compromise", "ca_compromise": "CA Compromise",
    "affiliation_changed": "Affiliation Changed", "superseded": "Superseded",
    "cessation_of_operation": "Cessation Of Operation", "certificate_hold": "Certificate Hold",
    "privilege_withdrawn": "Privilege Withdrawn", "aa_compromise": "AA Compromise",
}

_TLS_FEATURES = {5: "status_request", 17: "status_request_v2"}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---- small formatters ----------------------------------------------------------------------
def hex_colons(data: bytes, upper: bool = True) -> str:
    """``7A:4A:75`` (OpenSSL's key identifiers and fingerprints)."""
    return ":".join(f"{b:02X}" if upper else f"{b:02x}" for b in data)


def _hex_shown(data: bytes) -> str:
    shown = hex_colons(data[:HEX_SHOWN_MAX])
    return shown + (":..." if len(data) > HEX_SHOWN_MAX else "")


def serial_text(serial: int) -> str:
    """``Serial Number:`` as OpenSSL prints it: ``4660 (0x1234)`` when it fits in a long,
    else lowercase hex pairs joined by ``:`` (``(Negative)`` first for a negative one)."""
    magnitude = abs(serial)
    raw = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "big")
    if len(raw) <= 8 and magnitude < 1 << 63:
        sign = "-" if serial < 0 else ""
        return f"{sign}{magnitude} ({sign}0x{magnitude:x})"
    return ("(Negative)" if serial < 0 else "") + hex_colons(raw, upper=False)


def name_text(entries: Any) -> str:
    """An X.509 name as ``openssl x509 -text`` prints it: ``C = US, O = Org, CN = x``
    (multi-valued RDNs joined by `` + ``)."""
    rdns: list[list[str]] = []
    last = None
    for entry in entries:
        value = asn1_string_to_utf8(entry.tag, entry.value)
        shown = value if value is not None else "#" + entry.value.hex().upper()
        part = f"{short_name(entry.oid)} = {shown}"
        if rdns and entry.rdn == last:
            rdns[-1].append(part)
        else:
            rdns.append([part])
        last = entry.rdn
    return ", ".join(" + ".join(r) for r in rdns)


def _dirname(name: x509.Name) -> str:
    """``/CN=x/O=y``: a directoryName as OpenSSL prints it (X509_NAME_oneline)."""
    try:
        return name_oneline(parse_name(name.public_bytes()))
    except (DerError, ValueError):
        return name.rfc4514_string()


def _ct_time(when: dt.datetime) -> str:
    """An SCT timestamp as OpenSSL prints it: ``Nov 14 22:13:20.123 2023 GMT``."""
    ms = when.microsecond // 1000
    return f"{_MONTHS[when.month - 1]} {when.day:2d} {when:%H:%M:%S}.{ms:03d} {when.year} GMT"


# ---- general names ------------------------------------------------------------------------
def _othername_value(der: bytes) -> str:
    """The value of an otherName: its text when it is a string, else its DER in hex."""
    try:
        tlv = der_first(der)
        if tlv.tag == 0xA0:  # explicit [0] wrapper left in place
            tlv = der_first(tlv.content)
        text = asn1_string_to_utf8(tlv.tag, tlv.content)
        if text is not None:
            return text
    except DerError:
        pass
    return hex_colons(der)


def general_name(name: x509.GeneralName) -> tuple[dict[str, str], str]:
    """(data, OpenSSL text) of one GeneralName."""
    if isinstance(name, x509.DNSName):
        return {"type": "DNS", "value": name.value}, f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        ip = name.value
        if isinstance(ip, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return ({"type": "IP", "value": str(ip)},
                    f"IP:{ip_addr2a(ip.network_address.packed)}/{ip_addr2a(ip.netmask.packed)}")
        return {"type": "IP", "value": str(ip)}, f"IP Address:{ip_addr2a(ip.packed)}"
    if isinstance(name, x509.RFC822Name):
        return {"type": "email", "value": name.value}, f"email:{name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return {"type": "URI", "value": name.value}, f"URI:{name.value}"
    if isinstance(name, x509.DirectoryName):
        text = _dirname(name.value)
        return {"type": "DirName", "value": text}, f"DirName:{text}"
    if isinstance(name, x509.RegisteredID):
        oid = name.value.dotted_string
        return {"type": "RID", "value": oid}, f"Registered ID:{oid}"
    if isinstance(name, x509.OtherName):
        oid = name.type_id.dotted_string
        value = _othername_value(name.value)
        label = _OTHERNAME_NAMES.get(oid)
        shown = f"{label} ({oid})" if label else oid
        return {"type": "otherName", "oid": oid, "value": value}, f"othername: {shown}: {value}"
    return {"type": type(name).__name__, "value": str(name)}, f"<unsupported>:{name}"


def _names(names: Any) -> tuple[list[dict[str, str]], list[str]]:
    data, texts = [], []
    for name in names:
        d, t = general_name(name)
        data.append(d)
        texts.append(t)
    return data, texts


# ---- one decoder per extension type ----------------------------------------------------------
def _basic_constraints(v: x509.BasicConstraints) -> tuple[Any, list[str]]:
    line = "CA:TRUE" if v.ca else "CA:FALSE"
    if v.path_length is not None:
        line += f", pathlen:{v.path_length}"
    return {"ca": v.ca, "path_length": v.path_length}, [line]


def _key_usage(v: x509.KeyUsage) -> tuple[Any, list[str]]:
    names = [label for attr, label in _KEY_USAGE if getattr(v, attr)]
    if v.key_agreement:
        names += [label for attr, label in (("encipher_only", "Encipher Only"), ("decipher_only", "Decipher Only"))
                  if getattr(v, attr)]
    return names, [", ".join(names)]


def _eku(v: x509.ExtendedKeyUsage) -> tuple[Any, list[str]]:
    data = [{"oid": oid.dotted_string, "name": EKU_LONG_NAMES.get(oid.dotted_string, oid.dotted_string)}
            for oid in v]
    return data, [", ".join(d["name"] for d in data)]


def _alt_names(v: Any) -> tuple[Any, list[str]]:
    data, texts = _names(v)
    return data, [", ".join(texts)]


def _ski(v: x509.SubjectKeyIdentifier) -> tuple[Any, list[str]]:
    text = hex_colons(v.digest)
    return text, [text]


def _aki(v: x509.AuthorityKeyIdentifier) -> tuple[Any, list[str]]:
    data: dict[str, Any] = {"key_identifier": None, "issuer": None, "serial": None}
    lines = []
    if v.key_identifier is not None:
        data["key_identifier"] = hex_colons(v.key_identifier)
        lines.append(data["key_identifier"])
    if v.authority_cert_issuer:
        issuer_data, texts = _names(v.authority_cert_issuer)
        data["issuer"] = issuer_data
        lines += texts
    if v.authority_cert_serial_number is not None:
        serial = v.authority_cert_serial_number
        data["serial"] = hex_colons(serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big"))
        lines.append(f"serial:{data['serial']}")
    return data, lines


def _distribution_points(v: Any) -> tuple[Any, list[str]]:
    data, lines = [], []
    for point in v:
        entry: dict[str, Any] = {}
        if point.full_name:
            entry["full_name"], texts = _names(point.full_name)
            lines.append("Full Name:")
            lines += [f"  {t}" for t in texts]
        if point.relative_name:
            entry["relative_name"] = point.relative_name.rfc4514_string()
            lines += ["Relative Name:", f"  {entry['relative_name']}"]
        if point.reasons:
            entry["reasons"] = sorted(r.value for r in point.reasons)
            lines += ["Reasons:", "  " + ", ".join(_CRL_REASONS.get(r.name, r.value)
                                                    for r in sorted(point.reasons, key=lambda r: r.value))]
        if point.crl_issuer:
            entry["crl_issuer"], texts = _names(point.crl_issuer)
            lines.append("CRL Issuer:")
            lines += [f"  {t}" for t in texts]
        data.append(entry)
        lines.append("")
    while lines and lines[-1] == "":
        lines.pop()
    return data, lines


_ACCESS_METHODS = {"1.3.6.1.5.5.7.48.1": "OCSP", "1.3.6.1.5.5.7.48.2": "CA Issuers",
                   "1.3.6.1.5.5.7.48.3": "Time Stamping", "1.3.6.1.5.5.7.48.5": "CA Repository"}


def _access(v: Any) -> tuple[Any, list[str]]:
    data, lines = [], []
    for desc in v:
        oid = desc.access_method.dotted_string
        method = _ACCESS_METHODS.get(oid, oid)
        loc, text = general_name(desc.access_location)
        data.append({"method": method, "oid": oid, "location": loc})
        lines.append(f"{method} - {text}")
    return data, lines


def _policies(v: x509.CertificatePolicies) -> tuple[Any, list[str]]:
    data, lines = [], []
    for info in v:
        oid = info.policy_identifier.dotted_string
        entry: dict[str, Any] = {"policy": oid, "cps": [], "user_notices": []}
        lines.append(f"Policy: {oid}")
        for qualifier in info.policy_qualifiers or []:
            if isinstance(qualifier, str):
                entry["cps"].append(qualifier)
                lines.append(f"  CPS: {qualifier}")
                continue
            notice: dict[str, Any] = {"organization": None, "numbers": [], "explicit_text": qualifier.explicit_text}
            lines.append("  User Notice:")
            if qualifier.notice_reference is not None:
                notice["organization"] = qualifier.notice_reference.organization
                notice["numbers"] = list(qualifier.notice_reference.notice_numbers)
                lines.append(f"    Organization: {notice['organization']}")
                lines.append("    Numbers: " + ", ".join(str(n) for n in notice["numbers"]))
            if qualifier.explicit_text is not None:
                lines.append(f"    Explicit Text: {qualifier.explicit_text}")
            entry["user_notices"].append(notice)
        data.append(entry)
    return data, lines


def _name_constraints(v: x509.NameConstraints) -> tuple[Any, list[str]]:
    data: dict[str, Any] = {"permitted": None, "excluded": None}
    lines = []
    for key, label, subtrees in (("permitted", "Permitted:", v.permitted_subtrees),
                                 ("excluded", "Excluded:", v.excluded_subtrees)):
        if subtrees is None:
            continue
        data[key], texts = _names(subtrees)
        lines.append(label)
        lines += [f"  {t}" for t in texts]
    return data, lines


def _policy_constraints(v: x509.PolicyConstraints) -> tuple[Any, list[str]]:
    lines = []
    if v.require_explicit_policy is not None:
        lines.append(f"Require Explicit Policy:{v.require_explicit_policy}")
    if v.inhibit_policy_mapping is not None:
        lines.append(f"Inhibit Policy Mapping:{v.inhibit_policy_mapping}")
    return {"require_explicit_policy": v.require_explicit_policy,
            "inhibit_policy_mapping": v.inhibit_policy_mapping}, lines


def _inhibit_any(v: x509.InhibitAnyPolicy) -> tuple[Any, list[str]]:
    return v.skip_certs, [str(v.skip_certs)]


def _scts(v: Any) -> tuple[Any, list[str]]:
    data, lines = [], []
    for sct in v:
        log_id = hex_colons(sct.log_id)
        when = sct.timestamp.replace(tzinfo=dt.timezone.utc)
        try:
            hash_name = sct.signature_hash_algorithm.name
            sig_alg = sct.signature_algorithm.name.lower()
        except (AttributeError, ValueError):
            hash_name, sig_alg = "unknown", "unknown"
        data.append({"version": sct.version.name, "log_id": log_id, "timestamp": when.isoformat(),
                     "signature_algorithm": f"{sig_alg}-with-{hash_name}",
                     "extensions_bytes": len(sct.extension_bytes)})
        lines += ["Signed Certificate Timestamp:",
                  f"    Version   : {sct.version.name} (0x{sct.version.value:x})",
                  f"    Log ID    : {log_id}",
                  f"    Timestamp : {_ct_time(when)}",
                  f"    Extensions: {hex_colons(sct.extension_bytes) if sct.extension_bytes else 'none'}",
                  f"    Signature : {sig_alg}-with-{hash_name.upper()}"]
    return data, lines


def _tls_feature(v: x509.TLSFeature) -> tuple[Any, list[str]]:
    names = [_TLS_FEATURES.get(f.value, str(f.value)) for f in v]
    return names, [", ".join(names)]


def _policy_mappings(v: Any) -> tuple[Any, list[str]]:
    return str(v), [str(v)]


def _flag(_v: Any) -> tuple[Any, list[str]]:
    return None, ["NULL"]


_DECODERS: dict[type, Any] = {
    x509.BasicConstraints: _basic_constraints,
    x509.KeyUsage: _key_usage,
    x509.ExtendedKeyUsage: _eku,
    x509.SubjectAlternativeName: _alt_names,
    x509.IssuerAlternativeName: _alt_names,
    x509.SubjectKeyIdentifier: _ski,
    x509.AuthorityKeyIdentifier: _aki,
    x509.CRLDistributionPoints: _distribution_points,
    x509.FreshestCRL: _distribution_points,
    x509.AuthorityInformationAccess: _access,
    x509.SubjectInformationAccess: _access,
    x509.CertificatePolicies: _policies,
    x509.NameConstraints: _name_constraints,
    x509.PolicyConstraints: _policy_constraints,
    x509.InhibitAnyPolicy: _inhibit_any,
    x509.PrecertificateSignedCertificateTimestamps: _scts,
    x509.SignedCertificateTimestamps: _scts,
    x509.TLSFeature: _tls_feature,
    x509.OCSPNoCheck: _flag,
    x509.PrecertPoison: _flag,
}


# ---- extensions read from the DER, decoded one by one ------------------------------------------
def _raw_extensions(cert_der: bytes) -> list[bytes]:
    """The DER of each Extension of the certificate, in order."""
    tbs = der_first(cert_der).children()[0]
    for field in tbs.children():
        if field.tag == 0xA3:
            return [ext.raw for ext in field.children()[0].children()]
    return []


def _decode_alone(cert_der: bytes, ext_der: bytes) -> x509.Extension[x509.ExtensionType]:
    """cryptography's reading of one extension: the certificate rebuilt with only this
    extension (signature not checked: the bytes are only decoded)."""
    outer = der_first(cert_der).children()
    fields = outer[0].children()
    rebuilt = b"".join(encode_tlv(0xA3, encode_tlv(0x30, ext_der)) if f.tag == 0xA3 else f.raw for f in fields)
    cert = x509.load_der_x509_certificate(encode_tlv(0x30, encode_tlv(0x30, rebuilt) + b"".join(o.raw for o in outer[1:])))
    return next(iter(cert.extensions))


def readable_extensions(cert: x509.Certificate) -> list[x509.Extension[x509.ExtensionType]]:
    """``cert.extensions`` as a list, also when cryptography refuses the set only because a
    name holds an x400Address or ediPartyName (which OpenSSL reads): then each extension is
    decoded alone and one holding such a name is kept as an ``UnrecognizedExtension`` (its
    OID and critical flag intact). Other failures (ValueError, DuplicateExtension) are
    raised as cryptography raises them."""
    try:
        return list(cert.extensions)
    except x509.UnsupportedGeneralNameType:
        pass
    from cryptography.hazmat.primitives.serialization import Encoding

    der = cert.public_bytes(Encoding.DER)
    out = []
    for (oid, critical, value), ext_der in zip(parse_tbs(der).extensions, _raw_extensions(der), strict=False):
        try:
            out.append(_decode_alone(der, ext_der))
        except x509.UnsupportedGeneralNameType:
            ident = x509.ObjectIdentifier(oid)
            out.append(x509.Extension(ident, critical, x509.UnrecognizedExtension(ident, value)))
    return out


def _unparsed(oid: str, critical: bool, value: bytes, reason: str) -> dict[str, Any]:
    return {"oid": oid, "name": EXTENSION_NAMES.get(oid, oid), "critical": critical, "parsed": False,
            "value": {"error": reason, "length": len(value), "hex": _hex_shown(value)},
            "lines": [f"<unparsed: {reason}>", f"{len(value)} bytes: {_hex_shown(value)}"]}


def _reason(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return text or type(err).__name__


def _one_extension(ext: x509.Extension[x509.ExtensionType], raw_value: bytes) -> dict[str, Any]:
    oid = ext.oid.dotted_string
    decoder = _DECODERS.get(type(ext.value))
    if decoder is None:  # UnrecognizedExtension and types we do not decode
        value = getattr(ext.value, "value", raw_value)
        if not isinstance(value, bytes):
            value = raw_value
        return {"oid": oid, "name": EXTENSION_NAMES.get(oid, oid), "critical": ext.critical, "parsed": False,
                "value": {"unknown": True, "length": len(value), "hex": _hex_shown(value)},
                "lines": [f"unknown extension, {len(value)} bytes: {_hex_shown(value)}"]}
    try:
        data, lines = decoder(ext.value)
    except Exception as err:  # noqa: BLE001 - a value cryptography built but we cannot lay out
        return _unparsed(oid, ext.critical, raw_value, _reason(err))
    return {"oid": oid, "name": EXTENSION_NAMES.get(oid, oid), "critical": ext.critical, "parsed": True,
            "value": data, "lines": lines}


def extensions_text(cert: x509.Certificate, cert_der: bytes) -> list[dict[str, Any]]:
    """Every extension of the certificate (see the module docstring), in DER order."""
    raw = parse_tbs(cert_der).extensions
    try:
        parsed: list[x509.Extension[x509.ExtensionType]] | None = list(cert.extensions)
    except Exception:  # noqa: BLE001 - malformed, duplicated, unsupported: decode them one at a time
        parsed = None
    if parsed is not None and len(parsed) == len(raw):
        return [_one_extension(ext, raw[i][2]) for i, ext in enumerate(parsed)]
    ext_ders = _raw_extensions(cert_der)
    out = []
    for (oid, critical, value), ext_der in zip(raw, ext_ders, strict=False):
        try:
            out.append(_one_extension(_decode_alone(cert_der, ext_der), value))
        except Exception as err:  # noqa: BLE001 - whatever cryptography refuses is shown unparsed
            out.append(_unparsed(oid, critical, value, _reason(err)))
    return out


# ---- the rest of the certificate ----------------------------------------------------------------
def _signature_algorithm(cert: x509.Certificate) -> str:
    try:
        oid = cert.signature_algorithm_oid.dotted_string
    except ValueError:
        return "unknown"
    return _SIGNATURE_NAMES.get(oid, oid)


def public_key_text(cert: x509.Certificate) -> dict[str, Any]:
    """Algorithm (OpenSSL's name), type, size in bits, curve of the public key."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    from tlsmgm_cli.core.x509.keys import key_description, public_key_oid

    oid = public_key_oid(cert)
    key_type, bits = key_description(cert)
    data: dict[str, Any] = {"algorithm": _KEY_ALGORITHM_NAMES.get(oid, oid), "oid": oid, "type": key_type,
                            "bits": bits, "curve": None, "nist_curve": None, "exponent": None}
    try:
        key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        return data
    if isinstance(key, ec.EllipticCurvePublicKey):
        data["curve"], data["nist_curve"] = _CURVES.get(key.curve.name, (key.curve.name, None))
    elif isinstance(key, rsa.RSAPublicKey):
        data["exponent"] = key.public_numbers().e
    elif isinstance(key, dsa.DSAPublicKey):
        data["bits"] = key.key_size
    return data


def x509_text(cert: x509.Certificate, cert_der: bytes) -> dict[str, Any]:
    """The whole certificate as ``openssl x509 -text -noout`` shows it (plain data)."""
    tbs = parse_tbs(cert_der)
    return {
        "version": tbs.version + 1,
        "serial": serial_text(tbs.serial),
        "serial_hex": ("-" if tbs.serial < 0 else "") + f"{abs(tbs.serial):X}",
        "signature_algorithm": _signature_algorithm(cert),
        "issuer": name_text(tbs.issuer),
        "not_before": asn1_time_print(*tbs.not_before),
        "not_after": asn1_time_print(*tbs.not_after),
        "subject": name_text(tbs.subject),
        "public_key": public_key_text(cert),
        "fingerprints": {"sha1": hex_colons(hashlib.sha1(cert_der).digest()),  # noqa: S324 - a fingerprint
                         "sha256": hex_colons(hashlib.sha256(cert_der).digest())},
        "extensions": extensions_text(cert, cert_der),
    }
