"""Signing in with the jit command against the sandbox and the live portal: the device code, the browser with
PKCE on http://localhost (a stand-in browser that picks the person in the sandbox's chooser), the token cache
and its 0600 file, logout, and the refusals in the person's words."""

from __future__ import annotations

import json
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox import demo
from tests.cli.conftest import device_login

pytestmark = pytest.mark.integration


def test_the_commands_entry_point_is_installed_in_the_venv():
    """make test installs ./cli (the Makefile's dev install), so `jit` is on the venv's PATH."""
    assert (Path(sys.executable).parent / "jit").exists()


def test_login_with_a_device_code_signs_the_person_in(jit, sandbox):
    done = device_login(jit, sandbox, "alice")
    assert done.returncode == 0, done.stderr
    assert "Signed in to" in done.stdout and "Alice Archer (alice@contoso.test)" in done.stdout
    assert "NOT encrypted" in done.stderr  # told where the tokens are, since they opted in to a plain file
    cache = Path(jit.env["JIT_CONFIG_DIR"]) / "token_cache.bin"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    cached = json.loads(cache.read_text())
    assert any(t["client_id"] == demo.CLI_CLIENT_ID for t in cached["RefreshToken"].values())


def test_login_as_json_keeps_stdout_one_document(jit, sandbox):
    done = device_login(jit, sandbox, "hana", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == "hana@contoso.test"


def test_login_by_default_uses_the_browser_with_pkce_on_localhost(jit, sandbox, tmp_path):
    """MSAL opens the system browser (webbrowser, which honours BROWSER); this one picks Bob in the chooser and
    follows the redirect to the command's http://localhost listener."""
    browser = tmp_path / "browser.py"
    browser.write_text(
        textwrap.dedent(f"""
        import os, re, sys, requests
        if os.fork():  # a browser launcher returns at once; the page loads after MSAL starts listening
            sys.exit(0)
        url = sys.argv[1]
        assert "code_challenge=" in url and "redirect_uri=http%3A%2F%2Flocalhost%3A" in url, url
        http = requests.Session(); http.trust_env = False
        page = http.get(url, verify={str(sandbox.ca_path)!r}, timeout=10)
        carried = re.search(r"name='request' value='([^']*)'", page.text).group(1).replace("&amp;", "&")
        answer = http.post(url.split("?")[0], data={{"request": carried, "user": "bob"}}, allow_redirects=False,
                           verify={str(sandbox.ca_path)!r}, timeout=10)
        assert answer.status_code == 200, answer.text  # response_mode=form_post: a form that posts to localhost
        action = re.search(r"action='([^']*)'", answer.text).group(1)
        fields = dict(re.findall(r"name='([^']*)' value='([^']*)'", answer.text))
        http.post(action, data=fields, timeout=10)
    """)
    )
    jit.env["BROWSER"] = f"{sys.executable} {browser} %s"
    done = jit.run("login", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Bob Brennan (bob@contoso.test)" in done.stdout


def test_logout_forgets_the_tokens(jit, sandbox):
    assert device_login(jit, sandbox, "alice").returncode == 0
    done = jit.run("logout")
    assert done.returncode == 0 and "Signed out alice@contoso.test" in done.stdout
    again = jit.run("status")
    assert again.returncode == 6 and "not signed in" in again.stderr and "jit login" in again.stderr


def test_a_declined_code_says_so_and_exits_as_sign_in_needed(jit, sandbox):
    process = jit.start("login", "--device-code")
    line = process.stderr.readline()
    code = line.split("enter the code ")[1].split()[0]
    sandbox.control("POST", f"device-codes/{code}", {"decline": True})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 6 and "You declined the sign-in" in stderr


def test_public_client_flows_off_is_explained(jit, sandbox):
    sandbox.control("POST", f"public-clients/{demo.CLI_CLIENT_ID}", {"allow_public_client_flows": False})
    done = device_login(jit, sandbox, "alice")
    assert done.returncode == 6 and "Allow public client flows" in done.stderr


def test_without_an_encrypted_store_it_asks_before_writing_a_plain_file(jit):
    del jit.env["JIT_TOKEN_CACHE"]
    done = jit.run("login", "--device-code")
    assert done.returncode == 1 and "jit login --plain-token-cache" in done.stderr
    assert not (Path(jit.env["JIT_CONFIG_DIR"]) / "token_cache.bin").exists()


def test_configure_remembers_the_portal_after_reading_its_document(jit, live_server):
    del jit.env["JIT_PORTAL"]
    assert jit.run("status").returncode == 2
    done = jit.run("configure", live_server.url)
    assert done.returncode == 0, done.stderr
    settings = json.loads((Path(jit.env["JIT_CONFIG_DIR"]) / "config.json").read_text())
    assert settings["portal"] == live_server.url
    assert jit.run("configure", "http://127.0.0.1:9").returncode == 1  # nothing there: not saved


def test_a_sign_in_authority_whose_certificate_is_not_trusted_is_explained_not_a_traceback(jit, sandbox):
    """A newcomer following the README without JIT_CA_BUNDLE: MSAL's call to the sandbox's authority fails TLS."""
    jit.env.pop("JIT_CA_BUNDLE")
    done = jit.run("login", "--device-code")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "Cannot reach 127.0.0.1:" in done.stderr and "set JIT_CA_BUNDLE" in done.stderr
