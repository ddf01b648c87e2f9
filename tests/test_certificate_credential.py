"""Real-Azure mode may use a certificate instead of a client secret."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import override_settings

from jitportal.gateway.auth import client_credential


def test_a_certificate_file_becomes_msals_certificate_credential(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jitportal")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = tmp_path / "app.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    with override_settings(AZURE_CLIENT_CERTIFICATE_PATH=str(path)):
        credential = client_credential()
    assert credential["thumbprint"] == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    with override_settings(AZURE_CLIENT_CERTIFICATE_PATH="", AZURE_CLIENT_SECRET="s3cret"):
        assert client_credential() == "s3cret"
