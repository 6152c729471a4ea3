"""``SSL_set_verify`` on one live connection, which the stdlib cannot do (``tlsmgm serve``),
and ``SSL_set_tlsext_host_name`` with any SNI text (``tlsmgm handshake``, see :func:`set_sni`).

OpenSIPS 3.6.8's SNI callback switches the connection to the selected server domain and
applies that domain's verify mode with ``SSL_set_verify`` (behaviour §6.11). Assigning
``SSLSocket.context`` makes CPython call ``SSL_set_SSL_CTX``, which leaves the ``SSL``
object's verify mode as the initial context set it. :func:`set_verify_mode` calls
``SSL_set_verify`` through ctypes, with every assumption checked first:

* **the library**: symbols are looked up through the handle of CPython's own ``_ssl``
  extension (``dlopen(RTLD_NOLOAD)`` of ``_ssl.__file__``: the module and its
  dependencies, i.e. exactly the libssl/libcrypto ``_ssl`` is linked to, never a second
  copy; the process itself when ``_ssl`` is built in), and ``OpenSSL_version_num()`` must
  equal ``ssl.OPENSSL_VERSION_NUMBER``;
* **the object layout** (CPython 3.11-3.13 ``Modules/_ssl.c``): ``PySSLSocket`` starts
  ``PyObject_HEAD; PyObject *Socket; SSL *ssl; PySSLContext *ctx;`` and ``PySSLContext``
  starts ``PyObject_HEAD; SSL_CTX *ctx;``. Fields are only read inside the object's
  ``__basicsize__``, and the layout is accepted only if the socket's ``ctx`` field holds
  the address of the context object the socket reports;
* **the pointers**: ``SSL_get_SSL_CTX(ssl)`` must be the ``SSL_CTX*`` of that context.

Any mismatch returns False and nothing is written. CPython installs no verify callback of
its own (``SSL_CTX_set_verify(ctx, mode, NULL)``, later calls keep the current one); the
callback in force is passed back unchanged all the same, and ``SSL_VERIFY_POST_HANDSHAKE``
is added as CPython's ``newPySSLSocket`` does (server, ``post_handshake_auth``, PEER set).
"""

from __future__ import annotations

import _ssl
import ctypes
import functools
import os
import ssl
from dataclasses import dataclass
from typing import Any

SSL_VERIFY_NONE = 0x00
SSL_VERIFY_PEER = 0x01
SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02
SSL_VERIFY_POST_HANDSHAKE = 0x08
_MODE_BITS = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
_FLAGS = {ssl.CERT_NONE: SSL_VERIFY_NONE, ssl.CERT_OPTIONAL: SSL_VERIFY_PEER,
          ssl.CERT_REQUIRED: SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT}
_PTR = ctypes.sizeof(ctypes.c_void_p)
_HEAD = object.__basicsize__  # sizeof(PyObject): 16 on 64-bit, more with Py_TRACE_REFS / free threading
# field offsets inside PySSLSocket and PySSLContext
_SOCK_SSL = _HEAD + _PTR
_SOCK_CTX = _HEAD + 2 * _PTR
_CTX_SSL_CTX = _HEAD


@dataclass(frozen=True, slots=True)
class _LibSsl:
    """The few libssl functions needed, bound to the library ``_ssl`` uses."""

    get_ssl_ctx: Any
    get_verify_mode: Any
    get_verify_callback: Any
    set_verify: Any
    ctrl: Any = None
    get_servername: Any = None


@functools.cache
def _libssl() -> _LibSsl | None:
    """libssl as ``_ssl`` has it loaded, or None when it cannot be reached or is another
    OpenSSL version than the stdlib's."""
    path = getattr(_ssl, "__file__", None)
    try:
        lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | os.RTLD_LAZY) if path else ctypes.CDLL(None)
        version_num = lib.OpenSSL_version_num
        version_num.argtypes, version_num.restype = [], ctypes.c_ulong
        if version_num() != ssl.OPENSSL_VERSION_NUMBER:
            return None
        funcs = _LibSsl(lib.SSL_get_SSL_CTX, lib.SSL_get_verify_mode, lib.SSL_get_verify_callback,
                        lib.SSL_set_verify, lib.SSL_ctrl, lib.SSL_get_servername)
    except (OSError, AttributeError):
        return None
    for func in (funcs.get_ssl_ctx, funcs.get_verify_callback):
        func.argtypes, func.restype = [ctypes.c_void_p], ctypes.c_void_p
    funcs.get_verify_mode.argtypes, funcs.get_verify_mode.restype = [ctypes.c_void_p], ctypes.c_int
    funcs.set_verify.argtypes, funcs.set_verify.restype = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p], None
    funcs.ctrl.argtypes, funcs.ctrl.restype = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p], \
        ctypes.c_long
    funcs.get_servername.argtypes, funcs.get_servername.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_char_p
    return funcs


def _field(obj: object, offset: int) -> int | None:
    """The pointer stored ``offset`` bytes into ``obj`` (CPython: ``id`` is the address),
    read only when the field lies inside the object's fixed part."""
    if type(obj).__basicsize__ < offset + _PTR:
        return None
    return ctypes.c_void_p.from_address(id(obj) + offset).value


def _ssl_pointer(ssl_obj: ssl.SSLSocket | ssl.SSLObject) -> tuple[int, Any] | None:
    """``(SSL*, context)`` of a stdlib TLS connection once its layout checks out."""
    sslobj = getattr(ssl_obj, "_sslobj", ssl_obj)  # SSLSocket/SSLObject wrap a _ssl._SSLSocket
    context = getattr(ssl_obj, "context", None)
    # typeshed does not declare _ssl._SSLSocket (the C type behind SSLSocket/SSLObject)
    if type(sslobj) is not _ssl._SSLSocket or not isinstance(context, _ssl._SSLContext):  # type: ignore[attr-defined]
        return None
    if sslobj.context is not context or _field(sslobj, _SOCK_CTX) != id(context):
        return None
    ssl_ptr = _field(sslobj, _SOCK_SSL)
    return (ssl_ptr, context) if ssl_ptr else None


def set_verify_mode(ssl_obj: ssl.SSLSocket | ssl.SSLObject, mode: ssl.VerifyMode) -> bool:
    """Apply ``mode`` to this one connection (``SSL_set_verify``), e.g. from an SNI
    callback before the server asks for a certificate. True when the ``SSL`` object now
    has that mode; False (nothing changed) when the library, the object layout or the
    pointers cannot be validated."""
    flags = _FLAGS.get(mode)
    lib = _libssl()
    found = _ssl_pointer(ssl_obj) if lib is not None and flags is not None else None
    if lib is None or flags is None or found is None:
        return False
    ssl_ptr, context = found
    ctx_ptr = _field(context, _CTX_SSL_CTX)
    if not ctx_ptr or lib.get_ssl_ctx(ssl_ptr) != ctx_ptr:
        return False
    if flags & SSL_VERIFY_PEER and getattr(context, "post_handshake_auth", False) and \
            getattr(ssl_obj, "server_side", False):
        flags |= SSL_VERIFY_POST_HANDSHAKE
    lib.set_verify(ssl_ptr, flags, lib.get_verify_callback(ssl_ptr))
    return bool(lib.get_verify_mode(ssl_ptr) & _MODE_BITS == flags & _MODE_BITS)  # ctypes call: Any


# ---- SNI: SSL_set_tlsext_host_name ---------------------------------------------------------
SSL_CTRL_SET_TLSEXT_HOSTNAME = 55
TLSEXT_NAMETYPE_host_name = 0
TLSEXT_MAXLEN_host_name = 255


def can_set_sni() -> bool:
    """Whether :func:`set_sni` can reach libssl at all."""
    return _libssl() is not None


def set_sni(ssl_obj: ssl.SSLSocket | ssl.SSLObject, name: bytes) -> bool:
    """``SSL_set_tlsext_host_name(ssl, name)`` on a client connection before its
    handshake: the exact bytes ``name`` go into the ClientHello's server_name, which the
    stdlib refuses for IP literals (it sends no SNI then, RFC 6066) and rewrites for
    non-ASCII names (IDNA). True only when libssl accepted the name and reads it back
    unchanged (``SSL_get_servername``); False (nothing sent) otherwise."""
    lib = _libssl()
    found = _ssl_pointer(ssl_obj) if lib is not None else None
    if lib is None or found is None or not name or b"\0" in name or len(name) > TLSEXT_MAXLEN_host_name:
        return False
    ssl_ptr, context = found
    ctx_ptr = _field(context, _CTX_SSL_CTX)
    if not ctx_ptr or lib.get_ssl_ctx(ssl_ptr) != ctx_ptr:
        return False
    if lib.ctrl(ssl_ptr, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name) != 1:
        return False
    return bool(lib.get_servername(ssl_ptr, TLSEXT_NAMETYPE_host_name) == name)  # ctypes call: Any


# ---- the security level ------------------------------------------------------------------
@functools.cache
def _get_security_level() -> Any:
    path = getattr(_ssl, "__file__", None)
    if _libssl() is None:
        return None
    try:
        lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | os.RTLD_LAZY) if path else ctypes.CDLL(None)
        func = lib.SSL_CTX_get_security_level
    except (OSError, AttributeError):
        return None
    func.argtypes, func.restype = [ctypes.c_void_p], ctypes.c_int
    return func


def security_level(context: ssl.SSLContext) -> int | None:
    """``SSL_CTX_get_security_level`` of a stdlib context (None when libssl cannot be
    reached safely, see :func:`set_verify_mode`)."""
    func = _get_security_level()
    if func is None or not isinstance(context, _ssl._SSLContext):
        return None
    ctx_ptr = _field(context, _CTX_SSL_CTX)
    return int(func(ctx_ptr)) if ctx_ptr else None
