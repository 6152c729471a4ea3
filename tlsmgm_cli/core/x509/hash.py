"""OpenSSL's subject/issuer name hash (``X509_NAME_hash_ex``), as used by hashed directories.

OpenSSL looks certificates up in a ``ca_dir`` as ``<hash>.N`` and CRLs as ``<hash>.rN``,
where ``<hash>`` is what ``openssl x509 -hash`` / ``openssl crl -hash`` print. The hash is
the SHA-1 of the name's *canonical encoding* (``x509_name_canon`` in
``crypto/x509/x_name.c``), first four bytes read little-endian, printed ``%08x``.

Canonical encoding, per attribute value:

* values of type UTF8String, BMPString, UniversalString, PrintableString, T61String,
  IA5String or VisibleString are converted to UTF-8 (the one-byte types as Latin-1), then
  leading and trailing whitespace (ASCII space, ``\\t \\n \\v \\f \\r``) is removed, each
  internal run of whitespace becomes one space, ASCII letters are lowercased (bytes >= 0x80
  are copied unchanged), and the result is re-encoded as a UTF8String;
* values of any other type (NumericString, ...) are copied as they are;

then each RDN is DER-encoded as a SET OF (elements sorted by their encoding) and the SETs
are concatenated *without* the outer SEQUENCE header. An empty name hashes the empty string.
"""

from __future__ import annotations

import hashlib

from cryptography import x509

from tlsmgm_cli.core.x509.der import encode_tlv, split_tlv

# Universal tags whose values OpenSSL canonicalises (ASN1_MASK_CANON), with the codec that
# ASN1_STRING_to_UTF8 uses to read them.
_CANON_CODECS: dict[int, str] = {
    0x0C: "utf-8",      # UTF8String
    0x13: "latin-1",    # PrintableString
    0x14: "latin-1",    # T61String / TeletexString
    0x16: "latin-1",    # IA5String
    0x1A: "latin-1",    # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}
_UTF8STRING = 0x0C
_SEQUENCE = 0x30
_SET = 0x31
_WHITESPACE = b" \t\n\v\f\r"


def name_hash(name: x509.Name) -> str:
    """The 8-hex-digit hash ``openssl x509 -hash`` prints for a subject ``name``."""
    return name_hash_der(name.public_bytes())


def name_hash_der(der: bytes) -> str:
    """Like ``name_hash`` for a DER-encoded Name (a SEQUENCE OF RelativeDistinguishedName)."""
    digest = hashlib.sha1(canonical_name_encoding(der)).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def canonical_name_encoding(der: bytes) -> bytes:
    """OpenSSL's canonical encoding of a DER Name (the bytes that get hashed)."""
    tag, body, rest = split_tlv(der)
    if tag != _SEQUENCE or rest:
        raise ValueError("not a DER-encoded X.509 Name")
    out = bytearray()
    while body:
        tag, rdn, body = split_tlv(body)
        if tag != _SET:
            raise ValueError("malformed RelativeDistinguishedName")
        attributes = []
        while rdn:
            tag, atv, rdn = split_tlv(rdn)
            if tag != _SEQUENCE:
                raise ValueError("malformed AttributeTypeAndValue")
            attributes.append(_canonical_attribute(atv))
        out += encode_tlv(_SET, b"".join(sorted(attributes)))
    return bytes(out)


def canonical_value(text: bytes) -> bytes:
    """Canonicalise a UTF-8 value: trim, collapse whitespace, lowercase ASCII."""
    out = bytearray()
    pending_space = False
    for byte in text.strip(_WHITESPACE):
        if byte in _WHITESPACE:
            pending_space = True
            continue
        if pending_space:
            out.append(0x20)
            pending_space = False
        out.append(byte + 0x20 if 0x41 <= byte <= 0x5A else byte)
    return bytes(out)


def _canonical_attribute(atv: bytes) -> bytes:
    oid_tag, oid_body, value_tlv = split_tlv(atv)
    if oid_tag & 0x1F == 0x1F:  # re-encoded below with a one-octet tag
        raise ValueError("multi-byte DER tags are not supported in names")
    value_tag, value_body, trailing = split_tlv(value_tlv)
    if trailing:
        raise ValueError("malformed AttributeTypeAndValue")
    codec = _CANON_CODECS.get(value_tag)
    if codec is None:
        value = value_tlv
    else:
        try:
            utf8 = value_body.decode(codec).encode("utf-8")
        except UnicodeError as err:
            raise ValueError(f"undecodable name attribute value: {err}") from err
        value = encode_tlv(_UTF8STRING, canonical_value(utf8))
    return encode_tlv(_SEQUENCE, encode_tlv(oid_tag, oid_body) + value)
