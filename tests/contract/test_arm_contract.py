"""ARM's envelope around every answer: headers, api-versions, missing resource groups, throttling.

What ARM sends is described in Microsoft's docs (request and correlation ids, throttling headers and the
SubscriptionRequestsThrottled error, WWW-Authenticate on 401) and in the error codes ARM returns for an
unserved api-version (NoRegisteredProviderFound), an unknown namespace and a missing resource group.
"""

from __future__ import annotations

import http.client
import ssl
import uuid

import pytest

pytestmark = pytest.mark.integration

VMS = "/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines"
POLICY = (
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security/locations/westus2/"
    "jitNetworkAccessPolicies/default"
)


@pytest.fixture
def arm(sandbox, token_for):
    """Raw ARM calls as Bob, who may do everything the sandbox models."""
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {token_for('bob')}"

    def call(method: str, path: str, api_version: str | None = "2024-07-01", **kwargs):
        params = {"api-version": api_version} if api_version else {}
        return http.request(
            method, sandbox.base_url + path, params={**params, **kwargs.pop("params", {})}, timeout=30, **kwargs
        )

    return call


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def test_every_answer_has_a_request_id_of_its_own_and_the_correlation_id(arm, subs, sandbox):
    client_id, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    answer = arm(
        "GET",
        VMS.format(sub=subs["dev"]),
        headers={"x-ms-client-request-id": client_id, "x-ms-correlation-request-id": correlation},
    )
    assert answer.status_code == 200
    assert _is_uuid(answer.headers["x-ms-request-id"]) and answer.headers["x-ms-request-id"] != client_id
    assert answer.headers["x-ms-correlation-request-id"] == correlation
    assert int(answer.headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0
    missing = arm("GET", f"/subscriptions/{subs['dev']}/providers/Microsoft.Compute/galleries")
    assert missing.status_code == 404 and _is_uuid(missing.headers["x-ms-correlation-request-id"])
    sandbox.control("POST", "faults", {"operation": "vms.list", "kind": "500", "count": 1})
    failed = arm("GET", VMS.format(sub=subs["dev"]), headers={"x-ms-correlation-request-id": correlation})
    assert failed.status_code == 500 and failed.headers["x-ms-correlation-request-id"] == correlation
    assert _is_uuid(failed.headers["x-ms-request-id"])


def test_a_throttled_call_is_told_when_to_come_back_in_arms_words(arm, subs, sandbox):
    sandbox.control("POST", "faults", {"operation": "jit.put", "kind": "429", "count": 1, "retry_after": 7})
    answer = arm("PUT", POLICY.format(sub=subs["dev"], rg="rg-build"), "2020-01-01", json={})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    assert answer.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "'write' requests for subscription" in answer.json()["error"]["message"]
    assert int(answer.headers["x-ms-ratelimit-remaining-subscription-writes"]) >= 0
    assert _is_uuid(answer.headers["x-ms-correlation-request-id"])


def test_a_401_says_where_to_get_a_token(sandbox, subs):
    answer = sandbox.http().get(sandbox.base_url + VMS.format(sub=subs["dev"]), params={"api-version": "2024-07-01"})
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and f'authorization_uri="{sandbox.base_url}/' in challenge
    assert _is_uuid(answer.headers["x-ms-correlation-request-id"])


def test_a_200_delete_sends_one_content_length(arm, subs, sandbox, token_for):
    policy = POLICY.format(sub=subs["dev"], rg="rg-build")
    vm = f"/subscriptions/{subs['dev']}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"
    assert (
        arm(
            "PUT",
            policy,
            "2020-01-01",
            json={
                "kind": "Basic",
                "properties": {
                    "virtualMachines": [
                        {
                            "id": vm,
                            "ports": [
                                {
                                    "number": 22,
                                    "protocol": "TCP",
                                    "allowedSourceAddressPrefix": "*",
                                    "maxRequestAccessDuration": "PT3H",
                                }
                            ],
                        }
                    ]
                },
            },
        ).status_code
        == 200
    )
    # requests folds repeated headers into one; http.client shows each as sent
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    host, port = sandbox.base_url.removeprefix("https://").split(":")
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    connection.request(
        "DELETE", f"{policy}?api-version=2020-01-01", headers={"Authorization": f"Bearer {token_for('bob')}"}
    )
    answer = connection.getresponse()
    assert answer.status == 200 and answer.msg.get_all("Content-Length") == ["0"]
    assert answer.msg["x-ms-ratelimit-remaining-subscription-writes"]
    connection.close()


@pytest.mark.parametrize(
    "path",
    [
        VMS,
        "/subscriptions/{sub}/providers/Microsoft.Network/networkInterfaces",
        "/subscriptions/{sub}/resourceGroups/rg-build/providers/Microsoft.Network/networkSecurityGroups/nsg-rg-build-default",
        "/subscriptions/{sub}/providers/Microsoft.ClassicCompute/virtualMachines",
        "/subscriptions/{sub}/providers/Microsoft.Security/pricings",
        "/subscriptions/{sub}/providers/Microsoft.Security/jitNetworkAccessPolicies",
        "/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values",
    ],
)
def test_an_unserved_api_version_is_refused_on_every_route_with_the_supported_ones(arm, subs, path):
    answer = arm("GET", path.format(sub=subs["dev"]), "banana")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "NoRegisteredProviderFound"
    assert "API version 'banana'" in error["message"] and "The supported api-versions are '" in error["message"]
    assert arm("GET", path.format(sub=subs["dev"]), None).json()["error"]["code"] == "MissingApiVersionParameter"


def test_arms_own_routes_and_unknown_namespaces_are_refused_in_arms_words(arm, subs):
    subscriptions = arm("GET", "/subscriptions", "banana").json()["error"]
    assert subscriptions["code"] == "InvalidApiVersionParameter" and "2022-12-01" in subscriptions["message"]
    unknown = arm("GET", f"/subscriptions/{subs['dev']}/providers/Microsoft.Banana/things")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "InvalidResourceNamespace"


@pytest.mark.parametrize(
    "path,api_version",
    [
        (POLICY, "2020-01-01"),
        (
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security/jitNetworkAccessPolicies",
            "2020-01-01",
        ),
        (
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups/nsg-1",
            "2024-05-01",
        ),
        (
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm-1/instanceView",
            "2024-07-01",
        ),
    ],
)
def test_a_missing_resource_group_is_not_found_as_such(arm, subs, path, api_version):
    answer = arm("GET", path.format(sub=subs["dev"], rg="rg-nowhere"), api_version)
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "code": "ResourceGroupNotFound",
        "message": "Resource group 'rg-nowhere' could not be found.",
    }
