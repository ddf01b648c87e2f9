"""Fixtures the audit tests share with the request tests: a person signed in per browser, the Production rule."""

from tests.requests_app.conftest import person, production_rule  # noqa: F401 - fixtures for this folder
