"""The TLS listener's certificate and key: the configured pair, or a self-signed one.

``ensure_self_signed`` makes a pair with the ``cryptography`` package (asyncssh's own
dependency) when neither file exists: an ECDSA P-256 key and a certificate for
``localhost``, ``127.0.0.1``, ``::1`` and the listening host, valid ten years. Clients
verify it by trusting the certificate file itself (``--cafile``); an operator with a
real certificate sets ``tls.cert`` and ``tls.key`` to its files instead.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from moo.config import Config
from moo.errors import MooError
from moo.files import write_private
from moo.net.tls import server_context

log = logging.getLogger(__name__)

VALID_DAYS = 3650


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    addresses = {"127.0.0.1", "::1"}
    try:
        ipaddress.ip_address(host)
        addresses.add(host)
    except ValueError:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    return names


def self_signed_pem(host: str) -> tuple[bytes, bytes]:
    """A new (certificate, private key), both PEM, for ``host`` and the loopback names."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moo server (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ensure_self_signed(cert: Path, key: Path, host: str) -> bool:
    """Make a self-signed pair at ``cert`` and ``key`` (mode 0600) when neither exists.

    Returns True when it made one. The key is written first, so a crash between the two
    leaves only a key, which the caller reports (one file without the other is refused,
    never overwritten). Raises OSError.
    """
    if cert.exists() or key.exists():
        return False
    cert_pem, key_pem = self_signed_pem(host)
    write_private(key, key_pem)
    write_private(cert, cert_pem)
    return True


def tls_context(config: Config) -> ssl.SSLContext:
    """The telnet-tls listener's context: ``tls.cert`` and ``tls.key``, or (neither set)
    ``tls-cert.pem`` and ``tls-key.pem`` in the data directory, made self-signed (0600)
    when neither exists. Raises MooError naming the file or key at fault."""
    cert, key = config.tls.paths(config.data_dir)
    configured = config.tls.cert is not None or config.tls.key is not None
    try:
        if not configured and ensure_self_signed(cert, key, config.telnet_tls.host):
            log.warning(
                "made a self-signed TLS certificate for telnet-tls: %s (key %s); clients can "
                "verify the server with that file; set tls.cert and tls.key to use a real one",
                cert,
                key,
            )
    except OSError as error:
        raise MooError(f"tls: cannot write {key} and {cert}: {error.strerror or error}") from None
    for name, path in (("tls.cert", cert), ("tls.key", key)):
        if not path.is_file():
            fix = "" if configured else " (remove the other too to make a new self-signed pair)"
            raise MooError(f"{name}: {path} does not exist{fix}")
    try:
        return server_context(cert, key)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or error
        raise MooError(f"tls: cannot use {cert} with {key}: {reason}") from None
