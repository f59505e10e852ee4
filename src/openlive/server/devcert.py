"""A local development certificate: self-signed, valid for ``localhost``, ``127.0.0.1`` and ``::1``.

The Python SDK only connects over ``wss://`` (protocol reference §7.1), so a local server needs a
certificate the client trusts via ``SSL_CERT_FILE=cert.pem`` / ``ssl.create_default_context(cafile=…)``
or, for Node, ``NODE_EXTRA_CA_CERTS=cert.pem``. OpenSSL 3 only accepts a self-signed certificate as its
own trust anchor when it is marked as a CA (``basicConstraints CA:TRUE``) and names the host in its
subjectAltName, so the certificate is both: a one-certificate "CA" that is also the server certificate.
``pathlen:0`` keeps it from signing anything else that would be trusted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DNS_NAMES = ("localhost",)
IP_ADDRESSES = ("127.0.0.1", "::1")
VALID_DAYS = 365
# An existing certificate is replaced when it has less than this left.
RENEW_BEFORE = dt.timedelta(days=14)


@dataclass(frozen=True, slots=True)
class DevCert:
    cert: Path
    key: Path
    created: bool  # False when a valid existing pair was kept
    not_after: dt.datetime


def _san() -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in IP_ADDRESSES]
    return x509.SubjectAlternativeName(names)


def _existing(cert_path: Path, key_path: Path) -> x509.Certificate | None:
    """The certificate at ``cert_path`` if it, with ``key_path``, is still good for local use."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return None
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc - now < RENEW_BEFORE or cert.not_valid_before_utc > now:
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None
    wanted = set(_san())
    if not wanted <= set(san) or not ca.ca:
        return None
    return cert


def ensure_dev_cert(directory: Path, *, force: bool = False) -> DevCert:
    """Write ``cert.pem`` and ``key.pem`` (mode 0600) into ``directory``, unless a valid pair is there."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if not force and (cert := _existing(cert_path, key_path)) is not None:
        return DevCert(cert_path, key_path, created=False, not_after=cert.not_valid_after_utc)

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "openlive development"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # The key is created 0600 from the start, never briefly world-readable.
    tmp_key = key_path.with_suffix(".pem.tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    os.chmod(tmp_key, 0o600)
    os.replace(tmp_key, key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return DevCert(cert_path, key_path, created=True, not_after=cert.not_valid_after_utc)
