"""Real-Azure mode may use a certificate instead of a client secret."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from django.test import override_settings

from core.gateway.auth import client_credential
from tests.certificates import self_signed_pem


def test_a_certificate_file_becomes_msals_certificate_credential(tmp_path):
    cert = self_signed_pem(tmp_path / "app.pem", "jitportal")
    with override_settings(AZURE_CLIENT_CERTIFICATE_PATH=str(tmp_path / "app.pem")):
        credential = client_credential()
    assert credential["thumbprint"] == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    with override_settings(AZURE_CLIENT_CERTIFICATE_PATH="", AZURE_CLIENT_SECRET="s3cret"):
        assert client_credential() == "s3cret"
