# Stopgap: these fixtures live in tests/sandbox/conftest.py, which pytest applies to that folder only.
from tests.sandbox.conftest import clients_for, subs, token_for  # noqa: F401
