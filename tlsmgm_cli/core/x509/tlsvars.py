"""OpenSIPS's ``$tls_*`` pseudo-variables, byte for byte (behaviour §5).

Certificate variables come from :func:`cert_vars` (one certificate, as ``peer`` or ``my``);
the four peer verification flags from :func:`verify_flags`; the connection variables
(``$tls_version``, ``$tls_description``, ``$tls_cipher_info``, ``$tls_cipher_bits``) from
:func:`connection_vars`. Every function returns an ordered ``{name-without-$: str | None}``
dict where ``None`` is what OpenSIPS yields as NULL (xlog prints ``<null>``).

Fidelity notes:

* Names are read from the certificate's own DER (through :mod:`.der`), not from
  ``cryptography``'s decoded view, because ``X509_NAME_oneline`` prints the *raw* ASN.1
  content bytes of each value (a BMPString ``A`` is ``\\x00A``) and OpenSSL keeps the
  string type of each entry.
* Version, serial, dates and the subjectAltName are also read from the raw TBS, so odd
  encodings (v1, negative or 20-byte serials, GeneralizedTime with fractions, SAN bytes
  that are not ASCII) behave as in OpenSSL.
"""

from __future__ import annotations

import ssl
import weakref
from dataclasses import dataclass

from tlsmgm_cli.core.errors import UsageError
from tlsmgm_cli.core.net.addresses import ip_addr2a
from tlsmgm_cli.core.x509.der import DerError
from tlsmgm_cli.core.x509.der import first as der_first

PEER = "peer"
MY = "my"

# X509_V_* codes that set the peer flags (behaviour §5.10)
X509_V_OK = 0
X509_V_ERR_CERT_HAS_EXPIRED = 10
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
X509_V_ERR_CERT_REVOKED = 23

ONELINE_MAX = 1023  # X509_NAME_oneline(name, buf, 1024): 1023 characters + NUL
FIELD_MAX = 1024  # single-field and SAN text values must be shorter than this
_OID_TEXT_MAX = 79  # i2t_ASN1_OBJECT(tmp_buf, 80, ...) for unknown OIDs

# OBJ_nid2sn for attribute types that occur in names (OpenSSL 3.0 objects table).
_SHORT_NAMES_TEXT = """
    0.9.2342.19200300.100.1.1=UID 0.9.2342.19200300.100.1.2=textEncodedORAddress
    0.9.2342.19200300.100.1.3=mail 0.9.2342.19200300.100.1.4=info
    0.9.2342.19200300.100.1.5=favouriteDrink 0.9.2342.19200300.100.1.6=roomNumber
    0.9.2342.19200300.100.1.7=photo 0.9.2342.19200300.100.1.8=userClass 0.9.2342.19200300.100.1.9=host
    0.9.2342.19200300.100.1.10=manager 0.9.2342.19200300.100.1.11=documentIdentifier
    0.9.2342.19200300.100.1.12=documentTitle 0.9.2342.19200300.100.1.13=documentVersion
    0.9.2342.19200300.100.1.14=documentAuthor 0.9.2342.19200300.100.1.15=documentLocation
    0.9.2342.19200300.100.1.20=homeTelephoneNumber 0.9.2342.19200300.100.1.21=secretary
    0.9.2342.19200300.100.1.22=otherMailbox 0.9.2342.19200300.100.1.23=lastModifiedTime
    0.9.2342.19200300.100.1.24=lastModifiedBy 0.9.2342.19200300.100.1.25=DC
    0.9.2342.19200300.100.1.26=aRecord 0.9.2342.19200300.100.1.27=pilotAttributeType27
    0.9.2342.19200300.100.1.28=mXRecord 0.9.2342.19200300.100.1.29=nSRecord
    0.9.2342.19200300.100.1.30=sOARecord 0.9.2342.19200300.100.1.31=cNAMERecord
    0.9.2342.19200300.100.1.37=associatedDomain 0.9.2342.19200300.100.1.38=associatedName
    0.9.2342.19200300.100.1.39=homePostalAddress 0.9.2342.19200300.100.1.40=personalTitle
    0.9.2342.19200300.100.1.41=mobileTelephoneNumber 0.9.2342.19200300.100.1.42=pagerTelephoneNumber
    0.9.2342.19200300.100.1.43=friendlyCountryName 0.9.2342.19200300.100.1.44=uid
    0.9.2342.19200300.100.1.45=organizationalStatus 0.9.2342.19200300.100.1.46=janetMailbox
    0.9.2342.19200300.100.1.47=mailPreferenceOption 0.9.2342.19200300.100.1.48=buildingName
    0.9.2342.19200300.100.1.49=dSAQuality 0.9.2342.19200300.100.1.50=singleLevelQuality
    0.9.2342.19200300.100.1.51=subtreeMinimumQuality 0.9.2342.19200300.100.1.52=subtreeMaximumQuality
    0.9.2342.19200300.100.1.53=personalSignature 0.9.2342.19200300.100.1.54=dITRedirect
    0.9.2342.19200300.100.1.55=audio 0.9.2342.19200300.100.1.56=documentPublisher 1.2.643.3.131.1.1=INN
    1.2.643.100.1=OGRN 1.2.643.100.3=SNILS 1.2.643.100.5=OGRNIP 1.2.643.100.111=subjectSignTool
    1.2.643.100.112=issuerSignTool 1.2.643.100.113=classSignTool 1.2.643.100.113.1=classSignToolKC1
    1.2.643.100.113.2=classSignToolKC2 1.2.643.100.113.3=classSignToolKC3
    1.2.643.100.113.4=classSignToolKB1 1.2.643.100.113.5=classSignToolKB2
    1.2.643.100.113.6=classSignToolKA1 1.2.840.113549.1.9.1=emailAddress
    1.2.840.113549.1.9.2=unstructuredName 1.2.840.113549.1.9.3=contentType
    1.2.840.113549.1.9.4=messageDigest 1.2.840.113549.1.9.5=signingTime
    1.2.840.113549.1.9.6=countersignature 1.2.840.113549.1.9.7=challengePassword
    1.2.840.113549.1.9.8=unstructuredAddress 1.2.840.113549.1.9.9=extendedCertificateAttributes
    1.2.840.113549.1.9.14=extReq 1.2.840.113549.1.9.15=SMIME-CAPS 1.2.840.113549.1.9.20=friendlyName
    1.2.840.113549.1.9.21=localKeyID 1.2.840.113549.1.9.22.1=x509Certificate
    1.2.840.113549.1.9.22.2=sdsiCertificate 1.2.840.113549.1.9.23.1=x509Crl
    1.3.6.1.4.1.311.60.2.1.1=jurisdictionL 1.3.6.1.4.1.311.60.2.1.2=jurisdictionST
    1.3.6.1.4.1.311.60.2.1.3=jurisdictionC 1.3.6.1.5.5.7.9.1=id-pda-dateOfBirth
    1.3.6.1.5.5.7.9.2=id-pda-placeOfBirth 1.3.6.1.5.5.7.9.3=id-pda-gender
    1.3.6.1.5.5.7.9.4=id-pda-countryOfCitizenship 1.3.6.1.5.5.7.9.5=id-pda-countryOfResidence
    2.5.4.3=CN 2.5.4.4=SN 2.5.4.5=serialNumber 2.5.4.6=C 2.5.4.7=L 2.5.4.8=ST 2.5.4.9=street 2.5.4.10=O
    2.5.4.11=OU 2.5.4.12=title 2.5.4.13=description 2.5.4.14=searchGuide 2.5.4.15=businessCategory
    2.5.4.16=postalAddress 2.5.4.17=postalCode 2.5.4.18=postOfficeBox
    2.5.4.19=physicalDeliveryOfficeName 2.5.4.20=telephoneNumber 2.5.4.21=telexNumber
    2.5.4.22=teletexTerminalIdentifier 2.5.4.23=facsimileTelephoneNumber 2.5.4.24=x121Address
    2.5.4.25=internationaliSDNNumber 2.5.4.26=registeredAddress 2.5.4.27=destinationIndicator
    2.5.4.28=preferredDeliveryMethod 2.5.4.29=presentationAddress 2.5.4.30=supportedApplicationContext
    2.5.4.31=member 2.5.4.32=owner 2.5.4.33=roleOccupant 2.5.4.34=seeAlso 2.5.4.35=userPassword
    2.5.4.36=userCertificate 2.5.4.37=cACertificate 2.5.4.38=authorityRevocationList
    2.5.4.39=certificateRevocationList 2.5.4.40=crossCertificatePair 2.5.4.41=name 2.5.4.42=GN
    2.5.4.43=initials 2.5.4.44=generationQualifier 2.5.4.45=x500UniqueIdentifier 2.5.4.46=dnQualifier
    2.5.4.47=enhancedSearchGuide 2.5.4.48=protocolInformation 2.5.4.49=distinguishedName
    2.5.4.50=uniqueMember 2.5.4.51=houseIdentifier 2.5.4.52=supportedAlgorithms
    2.5.4.53=deltaRevocationList 2.5.4.54=dmdName 2.5.4.65=pseudonym 2.5.4.72=role
    2.5.4.97=organizationIdentifier 2.5.4.98=c3 2.5.4.99=n3 2.5.4.100=dnsName

"""
SHORT_NAMES: dict[str, str] = dict(item.split("=", 1) for item in _SHORT_NAMES_TEXT.split())

# the single-field variables: suffix -> attribute OID
NAME_FIELDS: tuple[tuple[str, str], ...] = (
    ("cn", "2.5.4.3"),
    ("locality", "2.5.4.7"),
    ("country", "2.5.4.6"),
    ("state", "2.5.4.8"),
    ("organization", "2.5.4.10"),
    ("unit", "2.5.4.11"),
)
SUBJECT_SERIAL_OID = "2.5.4.5"
SAN_OID = "2.5.29.17"
# GeneralName context tags (implicit, primitive) -> SAN variable suffix
_SAN_KINDS = ((0x81, "email"), (0x82, "hostname"), (0x86, "uri"), (0x87, "ip"))

# ASN.1 universal string tags
TAG_UTF8 = 12
TAG_GENERAL = 27
TAG_UNIVERSAL = 28
TAG_BMP = 30
_ONE_BYTE_STRING_TAGS = frozenset({18, 19, 20, 22, 23, 24, 26})  # Latin-1 in ASN1_STRING_to_UTF8
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def oid_text(content: bytes) -> str:
    """Dotted text of an OBJECT IDENTIFIER's content octets."""
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return ""
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


# ---- the certificate's raw fields --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NameEntry:
    """One attribute of a Name, as OpenSSL's X509_NAME_ENTRY holds it."""

    oid: str
    tag: int  # universal tag number of the value's string type
    value: bytes  # raw content octets (whole encoding for non-string values)
    rdn: int  # index of the RDN (``ne->set``); equal for a multi-valued RDN


@dataclass(frozen=True, slots=True)
class RawCert:
    """The TBSCertificate fields the ``$tls_*`` variables print, undecoded."""

    version: int
    serial: int
    issuer: tuple[NameEntry, ...]
    subject: tuple[NameEntry, ...]
    not_before: tuple[int, bytes]  # (tag, content)
    not_after: tuple[int, bytes]
    extensions: tuple[tuple[str, bool, bytes], ...]  # (oid, critical, value octets)

    def extension(self, oid: str) -> bytes | None:
        for ext_oid, _critical, value in self.extensions:
            if ext_oid == oid:
                return value
        return None


def parse_name(der: bytes) -> tuple[NameEntry, ...]:
    """The entries of a DER Name, in DER order, with their RDN index."""
    entries = []
    for rdn_index, rdn in enumerate(der_first(der).children()):
        for atv in rdn.children():
            parts = atv.children()
            if len(parts) < 2 or parts[0].tag != 0x06:
                raise DerError("bad AttributeTypeAndValue")
            value = parts[1]
            if value.constructed or value.tag >= 0x1F:
                entries.append(NameEntry(oid_text(parts[0].content), value.tag, value.raw, rdn_index))
            else:
                entries.append(NameEntry(oid_text(parts[0].content), value.tag, value.content, rdn_index))
    return tuple(entries)


def parse_tbs(cert_der: bytes) -> RawCert:
    """Read version, serial, names, validity and extensions from a certificate's DER."""
    cert = der_first(cert_der)
    tbs = cert.children()[0]
    fields = tbs.children()
    i = 0
    version = 0
    if fields[0].tag == 0xA0:
        version = int.from_bytes(fields[0].children()[0].content, "big", signed=True)
        i = 1
    serial = int.from_bytes(fields[i].content, "big", signed=True)
    issuer, validity, subject = fields[i + 2], fields[i + 3], fields[i + 4]
    not_before, not_after = validity.children()[:2]
    extensions: list[tuple[str, bool, bytes]] = []
    for extra in fields[i + 6:]:
        if extra.tag == 0xA3:
            for ext in extra.children()[0].children():
                parts = ext.children()
                critical = len(parts) == 3 and parts[1].tag == 0x01 and parts[1].content != b"\x00"
                extensions.append((oid_text(parts[0].content), critical, parts[-1].content))
    return RawCert(
        version=version,
        serial=serial,
        issuer=parse_name(issuer.raw),
        subject=parse_name(subject.raw),
        not_before=(not_before.tag, not_before.content),
        not_after=(not_after.tag, not_after.content),
        extensions=tuple(extensions),
    )


# ---- formatting ----------------------------------------------------------------------------
def short_name(oid: str) -> str:
    """OBJ_nid2sn, or the dotted OID (i2t_ASN1_OBJECT into an 80-byte buffer)."""
    return SHORT_NAMES.get(oid) or oid[:_OID_TEXT_MAX]


def _printed_bytes(entry: NameEntry) -> bytes:
    """The value bytes X509_NAME_oneline prints (the GeneralString UCS-4 quirk applied)."""
    value = entry.value
    if entry.tag == TAG_GENERAL and len(value) % 4 == 0:
        if not any(b for j, b in enumerate(value) if j & 3 != 3):
            return value[3::4]
    return value


def _escape_oneline(value: bytes) -> str:
    out = []
    for byte in value:
        if byte < 0x20 or byte > 0x7E:
            out.append(f"\\x{byte:02X}")
        elif byte in (0x2F, 0x2B):  # '/' '+'
            out.append("\\" + chr(byte))
        else:
            out.append(chr(byte))
    return "".join(out)


def name_oneline(entries: tuple[NameEntry, ...] | list[NameEntry], limit: int = ONELINE_MAX) -> str:
    """``X509_NAME_oneline(name, buf, limit + 1)`` of OpenSSL 3.x.

    Entries are added whole while the total stays within ``limit`` characters; the first
    entry that does not fit ends the output (no partial entry, no marker).
    """
    parts: list[str] = []
    length = 0
    prev_rdn = -1
    for entry in entries:
        text = short_name(entry.oid) + "=" + _escape_oneline(_printed_bytes(entry))
        length += 1 + len(text)
        if length > limit:
            break
        parts.append(("+" if entry.rdn == prev_rdn else "/") + text)
        prev_rdn = entry.rdn
    return "".join(parts)


def asn1_string_to_utf8(tag: int, value: bytes) -> str | None:
    """``ASN1_STRING_to_UTF8``; ``None`` where OpenSSL fails."""
    try:
        if tag == TAG_UTF8:
            return value.decode("utf-8")
        if tag in _ONE_BYTE_STRING_TAGS:
            return value.decode("latin-1")
        if tag == TAG_BMP and len(value) % 2 == 0:
            points = [int.from_bytes(value[i:i + 2], "big") for i in range(0, len(value), 2)]
        elif tag == TAG_UNIVERSAL and len(value) % 4 == 0:
            points = [int.from_bytes(value[i:i + 4], "big") for i in range(0, len(value), 4)]
        else:
            return None
    except UnicodeDecodeError:
        return None
    if any(p > 0x10FFFF or 0xD800 <= p <= 0xDFFF for p in points):
        return None
    return "".join(chr(p) for p in points)


def name_field(entries: tuple[NameEntry, ...], oid: str) -> str | None:
    """First entry with ``oid`` as raw UTF-8 (NULL when missing or >= 1024 bytes)."""
    for entry in entries:
        if entry.oid == oid:
            text = asn1_string_to_utf8(entry.tag, entry.value)
            if text is None or len(text.encode("utf-8")) >= FIELD_MAX:
                return None
            return text
    return None


def serial_text(serial: int) -> str:
    """The 32-bit serial quirk: ASN1_INTEGER_get -> long -> int -> int2str(uint64)."""
    return str(serial_int(serial) % 2**64)


def serial_int(serial: int) -> int:
    """The integer value OpenSIPS holds for ``$tls_*_serial``."""
    value = serial if -(2**63) <= serial < 2**63 else -1
    return ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def asn1_time_print(tag: int, content: bytes) -> str | None:
    """``ASN1_TIME_print`` (``Jan  5 09:03:07 2026 GMT``); ``None`` for a bad time."""
    text = content.decode("ascii", "replace")
    try:
        if tag == 0x17:  # UTCTime YYMMDDHHMM[SS]Z
            year = int(text[0:2])
            year += 2000 if year < 50 else 1900
            rest = text[2:]
        elif tag == 0x18:
            year = int(text[0:4])
            rest = text[4:]
        else:
            return None
        month, day, hour, minute = (int(rest[k:k + 2]) for k in (0, 2, 4, 6))
        second = int(rest[8:10]) if len(rest) >= 10 and rest[8:10].isdigit() else 0
    except ValueError:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 62):
        return None
    fraction = ""
    if tag == 0x18 and len(text) > 15 and text[14] == ".":
        k = 15
        while k < len(text) and text[k].isdigit():
            k += 1
        fraction = text[14:k]
    gmt = " GMT" if text.endswith("Z") else ""
    return f"{_MONTHS[month - 1]} {day:2d} {hour:02d}:{minute:02d}:{second:02d}{fraction} {year}{gmt}"


def san_values(raw: RawCert) -> dict[str, str | None]:
    """First email/hostname/uri/ip of the subjectAltName (all NULL without the extension)."""
    values: dict[str, str | None] = {kind: None for _tag, kind in _SAN_KINDS}
    ext = raw.extension(SAN_OID)
    if ext is None:
        return values
    try:
        names = der_first(ext).children()
    except DerError:
        return values
    kinds = dict(_SAN_KINDS)
    seen: set[str] = set()
    for name in names:
        kind = kinds.get(name.tag)
        if kind is None or kind in seen:
            continue
        seen.add(kind)  # only the first entry of a kind counts, even when it gives NULL
        if kind == "ip":
            # other lengths: undefined behaviour in OpenSIPS (behaviour §5.8), NULL here
            values[kind] = ip_addr2a(name.content) if len(name.content) in (4, 16) else None
        elif len(name.content) < FIELD_MAX:
            values[kind] = name.content.decode("utf-8", "replace")
    return values


# ---- the variables -------------------------------------------------------------------------
def cert_var_names(prefix: str) -> list[str]:
    """Names (without ``$``) of the certificate variables, in behaviour §5.2 order."""
    if prefix not in (PEER, MY):
        raise UsageError(f"prefix must be {PEER!r} or {MY!r}, not {prefix!r}")
    base = f"tls_{prefix}_"
    names = [base + "version", base + "serial", base + "subject", base + "issuer"]
    names += [f"{base}subject_{suffix}" for suffix, _oid in NAME_FIELDS]
    names.append(base + "subject_serial")
    names += [f"{base}issuer_{suffix}" for suffix, _oid in NAME_FIELDS]
    names += [f"{base}san_{kind}" for _tag, kind in _SAN_KINDS]
    if prefix == PEER:
        names += [base + flag for flag in ("verified", "revoked", "expired", "selfsigned")]
        names += [base + "notBefore", base + "notAfter"]
    return names


def verify_flags(verify_code: int | None) -> dict[str, str]:
    """``$tls_peer_verified/revoked/expired/selfsigned`` for a peer certificate whose
    verify result is ``verify_code`` (``None``: no peer certificate -> all ``"0"``)."""
    present = verify_code is not None
    return {
        "tls_peer_verified": "1" if present and verify_code == X509_V_OK else "0",
        "tls_peer_revoked": "1" if present and verify_code == X509_V_ERR_CERT_REVOKED else "0",
        "tls_peer_expired": "1" if present and verify_code == X509_V_ERR_CERT_HAS_EXPIRED else "0",
        "tls_peer_selfsigned": "1" if present and verify_code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        else "0",
    }


def cert_vars(cert_der: bytes, prefix: str = PEER, verify_code: int | None = X509_V_OK
              ) -> dict[str, str | None]:
    """All ``$tls_{prefix}_*`` variables for one certificate (DER bytes, e.g. from
    ``getpeercert(binary_form=True)`` or ``Certificate.public_bytes(DER)``).

    ``verify_code`` is the peer's verify result (``core.x509.verify``); ignored for ``my``.
    Raises :class:`DerError` if the DER is not a certificate structure.
    """
    try:
        raw = parse_tbs(cert_der)
    except (IndexError, DerError) as err:
        raise DerError(f"not an X.509 certificate structure ({err or 'missing field'})") from None
    base = f"tls_{prefix}_"
    values: dict[str, str | None] = {
        base + "version": str(raw.version),
        base + "serial": serial_text(raw.serial),
        base + "subject": name_oneline(raw.subject),
        base + "issuer": name_oneline(raw.issuer),
    }
    for suffix, oid in NAME_FIELDS:
        values[f"{base}subject_{suffix}"] = name_field(raw.subject, oid)
    values[base + "subject_serial"] = name_field(raw.subject, SUBJECT_SERIAL_OID)
    for suffix, oid in NAME_FIELDS:
        values[f"{base}issuer_{suffix}"] = name_field(raw.issuer, oid)
    for kind, value in san_values(raw).items():
        values[f"{base}san_{kind}"] = value
    if prefix == PEER:
        values.update(verify_flags(verify_code))
        values[base + "notBefore"] = asn1_time_print(*raw.not_before)
        values[base + "notAfter"] = asn1_time_print(*raw.not_after)
    return {name: values[name] for name in cert_var_names(prefix)}


def no_cert_vars(prefix: str) -> dict[str, str | None]:
    """Variables when there is no certificate: all NULL, peer flags ``"0"`` (behaviour §5.1)."""
    values: dict[str, str | None] = {name: None for name in cert_var_names(prefix)}
    if prefix == PEER:
        values.update(verify_flags(None))
    return values


# ---- connection variables ------------------------------------------------------------------
CONNECTION_VAR_NAMES = ("tls_version", "tls_description", "tls_cipher_info", "tls_cipher_bits")
_DESCRIPTION_MAX = 127  # SSL_CIPHER_description(cipher, buf, 128)


_DESCRIPTIONS: weakref.WeakKeyDictionary[ssl.SSLContext, dict[str, str]] = weakref.WeakKeyDictionary()


def cipher_description(name: str, context: ssl.SSLContext) -> str | None:
    """``SSL_CIPHER_description`` of ``name`` (OpenSSL 3.x layout, trailing newline).
    The context's cipher table is read once per context (``get_ciphers`` is slow)."""
    table = _DESCRIPTIONS.get(context)
    if table is None:
        table = _DESCRIPTIONS[context] = {
            c["name"]: (c["description"].rstrip("\n") + "\n").encode()[:_DESCRIPTION_MAX].decode(
                "ascii", "replace") for c in context.get_ciphers()}
    return table.get(name)


def connection_vars(sock: ssl.SSLSocket | ssl.SSLObject) -> dict[str, str | None]:
    """``$tls_version``, ``$tls_description``, ``$tls_cipher_info``, ``$tls_cipher_bits``
    of an established TLS connection."""
    cipher = sock.cipher()
    if cipher is None:
        return {name: None for name in CONNECTION_VAR_NAMES}
    name, _protocol, bits = cipher
    return {
        "tls_version": sock.version() or "unknown",
        "tls_description": cipher_description(name, sock.context),
        "tls_cipher_info": name,
        "tls_cipher_bits": str(bits),
    }
