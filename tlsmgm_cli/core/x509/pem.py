"""PEM blocks found the way OpenSSL's PEM reader (``PEM_read_bio``) finds them; the one
PEM splitter of tlsmgm.

* A block starts at a line ``-----BEGIN <label>-----`` and ends at the next line that
  starts with ``-----END ``, which must read ``-----END <label>-----``. The label is any
  text (OpenSSL does not restrict it).
* Whitespace and control bytes at the end of every line are ignored, and so is a UTF-8
  BOM at the start of the data; text before, between and after the blocks is ignored.
* A block that is not closed (the data ends, the END line names another label, or a
  BEGIN line comes first) stops the reading, as OpenSSL's readers fail there: the blocks
  before it are returned and :func:`scan_pem` names the label of the broken one.
* What OpenSSL checks inside a block (headers, base64) is left to whoever decodes it
  (:meth:`PemBlock.der`, or cryptography's PEM loaders on :attr:`PemBlock.block`).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from tlsmgm_cli.core.x509.der import element_length

# the labels PEM_read_bio_X509_AUX accepts (certificate files, CA lists)
CERTIFICATE_LABELS = frozenset((b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"))
_TRUSTED_CERTIFICATE = b"TRUSTED CERTIFICATE"
_BEGIN = b"-----BEGIN "
_BOM = b"\xef\xbb\xbf"
_LINE_END_JUNK = bytes(range(0x21))  # what sanitize_line strips (bytes <= ' ')
_BASE64_WHITESPACE = b" \t\n\r\v\f"
_BEGIN_LINE = re.compile(rb"^-----BEGIN (.*?)-----[\x00-\x09\x0b-\x20]*$", re.MULTILINE)
_END_LINE = re.compile(rb"^-----END [^\n]*", re.MULTILINE)


class PemBlock(NamedTuple):
    """One PEM block: ``label`` and ``block``, its text with the line ends normalised
    (``\\n``, trailing whitespace dropped), from the BEGIN line to the END line."""

    label: bytes
    block: bytes

    @property
    def body(self) -> bytes:
        """The lines between the BEGIN and END lines (headers included)."""
        return self.block[self.block.index(b"\n") + 1:self.block.rindex(b"-----END ")]

    def der(self) -> bytes:
        """The decoded body; ``ValueError`` (``binascii.Error``) when it is not pure base64
        (a header such as ``Proc-Type`` counts as damage, as for OpenSSL's X509 readers)."""
        return base64.b64decode(self.body.translate(None, _BASE64_WHITESPACE), validate=True)

    def certificate_der(self) -> bytes:
        """:meth:`der` of a certificate block; for ``TRUSTED CERTIFICATE`` (X509_AUX) the
        certificate alone, without the trust settings that follow it."""
        data = self.der()
        if self.label == _TRUSTED_CERTIFICATE:
            return data[:element_length(data) or len(data)]
        return data


@dataclass(frozen=True, slots=True)
class PemScan:
    """The complete blocks of some data, in order, and the label of the block where the
    reading stopped (None when every BEGIN line had its END line)."""

    blocks: list[PemBlock]
    broken: bytes | None = None


def scan_pem(data: bytes) -> PemScan:
    """Every PEM block of ``data`` up to the first broken one (see the module docstring)."""
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    blocks: list[PemBlock] = []
    pos = 0
    while begin := _BEGIN_LINE.search(data, pos):
        label = begin.group(1)
        end = _END_LINE.search(data, begin.end())
        if end is None or end.group(0).rstrip(_LINE_END_JUNK) != b"-----END " + label + b"-----" \
                or _BEGIN_LINE.search(data, begin.end(), end.start()):
            return PemScan(blocks, label)
        lines = data[begin.end() + 1:end.start()].split(b"\n")[:-1]
        body = b"".join(line.rstrip(_LINE_END_JUNK) + b"\n" for line in lines)
        blocks.append(PemBlock(label, b"-----BEGIN %s-----\n%s-----END %s-----\n" % (label, body, label)))
        pos = end.end()
    return PemScan(blocks)


def pem_blocks(data: bytes) -> list[PemBlock]:
    """The complete PEM blocks of ``data``, in order (:func:`scan_pem` without the reason
    it stopped)."""
    return scan_pem(data).blocks


def is_pem(data: bytes) -> bool:
    """Whether ``data`` holds a PEM BEGIN line (OpenSSL would read it as PEM)."""
    return _BEGIN in data and _BEGIN_LINE.search(data[len(_BOM):] if data.startswith(_BOM) else data) is not None


@dataclass(frozen=True, slots=True)
class PrivateKeyRead:
    """The private key of some PEM data, or ``problem`` ("encrypted" or "invalid") and a
    ``detail`` that never contains key material."""

    key: Any = None
    problem: str | None = None
    detail: str = ""


def read_private_key(data: bytes) -> PrivateKeyRead:
    """The first PEM private key of ``data`` as ``PEM_read_bio_PrivateKey`` finds it
    (blocks of other labels are passed over). An encrypted key is not decrypted: OpenSIPS
    would prompt for its passphrase on the console."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    scan = scan_pem(data)
    found = next((b for b in scan.blocks if b.label.endswith(b"PRIVATE KEY")), None)
    if found is None:
        broken_key = scan.broken is not None and scan.broken.endswith(b"PRIVATE KEY")
        return PrivateKeyRead(problem="invalid", detail="the PEM private key cannot be parsed" if broken_key
                              else "no PEM private key in it")
    if found.label == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in found.block:
        return PrivateKeyRead(problem="encrypted", detail="the key is encrypted with a passphrase")
    try:
        return PrivateKeyRead(key=serialization.load_pem_private_key(found.block, password=None))
    except TypeError:  # "Password was not given but private key is encrypted"
        return PrivateKeyRead(problem="encrypted", detail="the key is encrypted with a passphrase")
    except ValueError:
        return PrivateKeyRead(problem="invalid", detail="the PEM private key cannot be parsed")
    except UnsupportedAlgorithm:
        return PrivateKeyRead(problem="invalid", detail="unsupported key algorithm")
