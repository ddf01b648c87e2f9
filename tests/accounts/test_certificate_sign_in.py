"""The portal signs people in with a certificate credential instead of the client secret: MSAL sends a
client assertion signed with the certificate's key (private_key_jwt), and the sandbox checks it against
the certificate registered for the demo client."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.conftest import sign_in

pytestmark = pytest.mark.integration


def test_a_person_signs_in_with_the_certificate_and_no_secret(portal, sandbox, db):
    certificate = sandbox.info()["client_certificate_path"]
    with override_settings(AZURE_CLIENT_SECRET="", AZURE_CLIENT_CERTIFICATE_PATH=certificate):
        response = sign_in(portal, sandbox, "alice")
        assert response.status_code == 302, response.content
        assert portal.get("/").status_code == 200
