"""The `jit` command: sign in, list, request, wait, connect, decide, audit — as the signed-in person, through
the portal's API (the same rules, approvals and trail as its pages)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import requests
from rich.console import Console
from rich.table import Table

from . import __version__, auth
from .api import Api
from .config import Portal, Session, discover, normalize_portal, portal_address, save_settings, unreachable
from .errors import Exit, JitError
from .words import duration_words, minutes, outcome, since, time_left

SSH_PORT, RDP_PORT = 22, 3389


class Context:
    def __init__(self, output: str) -> None:
        self.json = output == "json"
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self._portal: Portal | None = None
        self.emitted = False  # --output json prints one document: an error after the answer adds none

    def portal(self, address: str | None = None) -> Portal:
        if self._portal is None or address:
            self._portal = discover(normalize_portal(address) if address else portal_address(), Session())
        return self._portal

    def api(self) -> Api:
        portal = self.portal()
        return Api(portal, auth.access_token(portal))

    def emit(self, data, text: str | Table | None = None) -> None:
        """--output json: the data as one JSON document on stdout; else the text (or a table) for people."""
        if self.json:
            click.echo(json.dumps(data, indent=2, default=str))
            self.emitted = True
        elif text is not None:
            self.out.print(text)

    def say(self, message: str) -> None:
        """What a person should read whatever the output (instructions, progress): on stderr."""
        self.err.print(message)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class JitGroup(click.Group):
    """Every failure ends in words and a documented exit code, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            try:
                return super().invoke(ctx)
            except requests.RequestException as failed:  # MSAL's calls to Entra ID go through our Session too
                raise unreachable(failed) from failed
        except JitError as error:
            obj = ctx.obj if isinstance(ctx.obj, Context) else Context("text")
            if obj.json and not obj.emitted:
                click.echo(
                    json.dumps(
                        {
                            "error": {
                                "kind": error.kind,
                                "message": error.message,
                                "exit_code": int(error.code),
                                **_safe(error.details),
                            }
                        },
                        indent=2,
                    )
                )
            click.echo(f"jit: {error.message}", err=True)
            ctx.exit(int(error.code))


def _safe(details: dict) -> dict:
    return {"problem": details} if details else {}


@click.group(cls=JitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="JIT_OUTPUT",
    help="json: one JSON document on stdout (instructions and progress on stderr).",
)
@click.version_option(__version__, prog_name="jit")
@click.pass_context
def cli(ctx: click.Context, output: str) -> None:
    """Azure Just-in-Time VM access from the terminal, through your jitportal.

    \b
    Exit codes: 0 done (access open), 1 other error, 2 wrong usage, 3 denied,
    4 expired or timed out, 5 refused by Azure, 6 sign-in needed or no portal role,
    7 waiting for approval (a request made without --wait).
    """
    ctx.obj = Context(output)


def output_option(function):
    """--output after the subcommand too (jit status -o json), as people type it."""

    def set_output(ctx: click.Context, _param, value: str | None) -> None:
        if value:
            ctx.find_object(Context).json = value == "json"

    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default=None,
        expose_value=False,
        callback=set_output,
        help="json: one JSON document on stdout.",
    )(function)


# --- configure, login, logout, whoami ----------------------------------------------------------------------
@cli.command()
@click.argument("portal_url", required=False)
@click.option(
    "--plain-token-cache/--encrypted-token-cache",
    default=None,
    help="Keep tokens in a 0600 file (not encrypted) where the OS offers no encrypted store.",
)
@output_option
@click.pass_obj
def configure(obj: Context, portal_url: str | None, plain_token_cache: bool | None) -> None:
    """Remember the portal's address (only that: the portal publishes the rest)."""
    values: dict = {}
    if portal_url:
        portal = obj.portal(portal_url)
        values["portal"] = portal.address
    if plain_token_cache is not None:
        values["token_cache"] = auth.PLAIN if plain_token_cache else "encrypted"
    if not values:
        raise JitError("Give the portal's address: jit configure https://jit.example.com", Exit.USAGE, "usage")
    path = save_settings(values)
    obj.emit({"saved": str(path), **values}, f"Saved to {path}: " + ", ".join(f"{k} {v}" for k, v in values.items()))


@cli.command()
@click.option("--device-code", is_flag=True, help="Sign in on another device with a code (SSH, no browser).")
@click.option(
    "--plain-token-cache",
    is_flag=True,
    default=None,
    help="Where no encrypted store exists: keep tokens in a 0600 file (not encrypted); remembered.",
)
@output_option
@click.pass_obj
def login(obj: Context, device_code: bool, plain_token_cache: bool | None) -> None:
    """Sign in to the portal (the browser by default)."""
    portal = obj.portal()
    if plain_token_cache:
        save_settings({"token_cache": auth.PLAIN})
    claims, where = auth.login(portal, device_code, obj.say, plain=True if plain_token_cache else None)
    obj.say(where)
    who = {"name": claims.get("name"), "username": claims.get("preferred_username"), "portal": portal.address}
    obj.emit(who, f"Signed in to {portal.address} as {who['name']} ({who['username']}).")


@cli.command()
@output_option
@click.pass_obj
def logout(obj: Context) -> None:
    """Forget the tokens kept for this portal."""
    removed = auth.logout(obj.portal())
    obj.emit({"signed_out": removed}, f"Signed out {', '.join(removed)}." if removed else "Nobody was signed in.")


@cli.command()
@output_option
@click.pass_obj
def whoami(obj: Context) -> None:
    """Who the portal sees: name, account, portal roles."""
    me = obj.api().get("me")
    roles = ", ".join(me.get("roles") or []) or "none (ask the portal's admins for one)"
    obj.emit(me, f"{me.get('display_name')} ({me.get('username')}) on {obj.portal().address}\nroles: {roles}")


# --- VMs ---------------------------------------------------------------------------------------------------
@cli.command(name="ls")
@click.option(
    "--tab", type=click.Choice(["configured", "not-configured", "unsupported"]), default="configured", show_default=True
)
@click.option("--filter", "query", help="Words to look for in names, groups, regions (as the page's search).")
@output_option
@click.pass_obj
def list_vms(obj: Context, tab: str, query: str | None) -> None:
    """The VMs you can see."""
    items = list(obj.api().pages("vms", tab=tab, q=query, per_page=100))
    table = Table("VM", "resource group", "subscription", "OS", "power", "ports", "connect to", box=None)
    for vm in items:
        ports = ", ".join(f"{p['number']} (≤ {duration_words(p['max_minutes'])})" for p in vm.get("ports") or [])
        table.add_row(
            vm["name"],
            vm["resource_group"],
            vm["subscription_name"],
            vm["os_type"],
            vm["power_state"],
            ports or vm.get("reason") or "",
            vm.get("connect_address") or "",
        )
    obj.emit({"tab": tab, "items": items}, table if items else f"No VM on the {tab} tab.")


# --- requests ----------------------------------------------------------------------------------------------
def _ports(values: tuple[int, ...]) -> list[int] | None:
    return list(values) or None


def _create(
    api: Api, vm_ids: list[str], ports: list[int] | None, duration: int, reason: str, source: str | None
) -> dict:
    return api.post(
        "requests",
        {
            "vms": vm_ids,
            "ports": ports,
            "source": source or "my-ip",
            "duration_minutes": duration,
            "justification": reason,
        },
    )


def _denials(request: dict) -> str:
    said = [
        f"by {d['approver']}: {d.get('comment') or '(no comment)'}"
        for d in request.get("decisions") or []
        if str(d.get("decision", "")).lower().startswith("den")
    ]
    return "; ".join(said)


def _refusals(request: dict) -> str:
    return " ".join(dict.fromkeys(i["message"] for i in request.get("items") or [] if i.get("message")))


def _verdict(request: dict) -> JitError | None:
    """The error a finished request ends the command with, or None when it is open."""
    code = outcome(str(request.get("state", "")))
    if code is None or code == Exit.OK:
        return None
    words = {
        Exit.DENIED: f"Request {request['id']} was denied {_denials(request) or '(no comment)'}.",
        Exit.AZURE_REFUSED: f"Azure did not open request {request['id']} ({request['state']}): "
        f"{_refusals(request) or 'no reason given'}",
        Exit.EXPIRED: f"Request {request['id']}: {request['state']}.",
        Exit.OTHER: f"Request {request['id']}: {request['state']} — `jit status` shows what Azure did.",
    }[code]
    return JitError(words, code, str(request.get("state")), {"request": request})


def _wait(obj: Context, api: Api, request: dict, timeout: int) -> dict:
    """Poll the request until it is decided (and opened, or not), with a live status on stderr."""
    started, poll = time.monotonic(), float(os.environ.get("JIT_POLL_SECONDS", "3"))
    with obj.err.status("") as status:
        while outcome(str(request.get("state", ""))) is None:
            waited = int(time.monotonic() - started)
            if waited >= timeout:
                raise JitError(
                    f"Stopped waiting after {duration_words(timeout // 60)}: request {request['id']} is "
                    f"still {request.get('state')}. `jit status` shows it later.",
                    Exit.EXPIRED,
                    "timed-out",
                    {"request": request},
                )
            status.update(
                f"Request {request['id']}: {request.get('state')} — waiting {waited // 60}:{waited % 60:02d}"
                f" (Ctrl-C stops waiting; the request stays)"
            )
            time.sleep(poll)
            request = api.get(f"requests/{request['id']}")
    return request


def _items_text(request: dict) -> str:
    lines = [f"Request {request['id']}: {request['state']}"]
    for item in request.get("items") or []:
        # An end only for a port Azure opened: a waiting or refused one has none yet, whatever the window asked.
        until = f" (until {item['end']})" if item.get("status") == "opened" else ""
        lines.append(
            f"  {item['vm_name']} port {item['port']} from {item['source']}: {item['fate']}{until}"
            + (f" — {item['message']}" if item.get("message") else "")
        )
    return "\n".join(lines)


def _finish(obj: Context, request: dict, wait: bool) -> None:
    obj.emit(request, _items_text(request))
    if (error := _verdict(request)) is not None:
        raise error
    if outcome(str(request.get("state", ""))) is None and not wait:
        raise JitError(
            f"Request {request.get('id')} waits for approval: `jit status` or `jit request … --wait`.",
            Exit.WAITING,
            "waiting",
        )


@cli.command()
@click.argument("vms", nargs=-1, required=True)
@click.option(
    "--port",
    "-p",
    "ports",
    type=click.IntRange(0, 65535),
    multiple=True,
    help="A port to open (repeat for more); default: each VM's usual one (SSH, or RDP on Windows).",
)
@click.option("--for", "duration", default="1h", show_default=True, help="How long: 2h, 90m, 1h30m.")
@click.option("--reason", "-r", help="Why (the justification the approvers and the trail see).")
@click.option("--source", help="The IP or CIDR to open for; default: your address as the portal sees it.")
@click.option("--wait", is_flag=True, help="Wait for approval and for Azure to open the ports.")
@click.option("--timeout", default="15m", show_default=True, help="How long --wait waits.")
@output_option
@click.pass_obj
def request(
    obj: Context,
    vms: tuple[str, ...],
    ports: tuple[int, ...],
    duration: str,
    reason: str | None,
    source: str | None,
    wait: bool,
    timeout: str,
) -> None:
    """Ask for access to one or more VMs."""
    api = obj.api()
    vm_ids = [api.vm_id(vm) for vm in vms]
    if reason is None:
        reason = click.prompt("Reason", err=True) if sys.stdin.isatty() else ""
    created = _create(api, vm_ids, _ports(ports), minutes(duration), reason, source)
    if wait:
        created = _wait(obj, api, created, minutes(timeout) * 60)
    _finish(obj, created, wait)


@cli.command()
@output_option
@click.pass_obj
def status(obj: Context) -> None:
    """What is open for you now, with the time left, and your requests waiting for approval."""
    api = obj.api()
    items = api.get("access")
    # A request made without --wait is pointed here: show it while it waits (the newest page of my requests).
    waiting = [r for r in api.get("requests").get("items", []) if r.get("status") == "awaiting"]
    now = _now()
    table = Table("request", "VM", "port", "connect to", "ends", "left", box=None)
    for item in items:
        table.add_row(
            str(item["request_id"]),
            item["vm_name"],
            str(item["port"]),
            f"{item['connect_address']}:{item['connect_port']}",
            item["end"],
            time_left(item["end"], now),
        )
    for r in waiting:
        table.add_row(
            str(r["id"]),
            ", ".join(dict.fromkeys(i["vm_name"] for i in r.get("items") or [])),
            ", ".join(dict.fromkeys(str(i["port"]) for i in r.get("items") or [])),
            "",
            f"{r['state']}, decided by {r.get('pending_until') or '?'}",
            "",
        )
    obj.emit({"items": items, "waiting": waiting}, table if items or waiting else "Nothing is open for you.")


def _open_access(api: Api, vm_id: str, port: int) -> dict | None:
    return next((i for i in api.get("access") if i["vm_id"].lower() == vm_id.lower() and i["port"] == port), None)


def _ensure_open(
    obj: Context, api: Api, vm_id: str, port: int, duration: str, reason: str | None, timeout: str
) -> dict:
    """The open access to `port` of the VM: what is open already, or a new request waited for."""
    found = _open_access(api, vm_id, port)
    if found:
        return found
    if reason is None:
        if not sys.stdin.isatty():
            raise JitError("Nothing is open on that VM: give --reason to request access.", Exit.USAGE, "usage")
        reason = click.prompt(
            f"Nothing is open on {vm_id.rsplit('/', 1)[-1]} port {port}. Reason to request it", err=True
        )
    created = _wait(obj, api, _create(api, [vm_id], [port], minutes(duration), reason, None), minutes(timeout) * 60)
    if (error := _verdict(created)) is not None:
        raise error
    found = _open_access(api, vm_id, port)
    if not found:
        raise JitError(
            f"Request {created.get('id')} is {created.get('state')}, but no open access to port {port} shows for it.",
            Exit.AZURE_REFUSED,
            "not-open",
            {"request": created},
        )
    return found


def _target(text: str) -> tuple[str | None, str]:
    user, at, vm = text.rpartition("@")
    return (user or None) if at else None, vm


@cli.command()
@click.argument("target")
@click.argument("ssh_args", nargs=-1)
@click.option(
    "--port", "-p", default=SSH_PORT, show_default=True, type=click.IntRange(1, 65535), help="The VM's SSH port."
)
@click.option("--user", "-l", help="The account on the VM (or write user@VM).")
@click.option("--for", "duration", default="1h", show_default=True, help="How long, when a request is needed.")
@click.option("--reason", "-r", help="Why, when a request is needed (asked for when not given).")
@click.option("--timeout", default="15m", show_default=True, help="How long to wait for approval.")
@output_option
@click.pass_obj
def ssh(
    obj: Context,
    target: str,
    ssh_args: tuple[str, ...],
    port: int,
    user: str | None,
    duration: str,
    reason: str | None,
    timeout: str,
) -> None:
    """SSH to a VM: requests access when nothing is open, waits, then runs ssh (what follows -- goes to ssh).

    Behind an Azure Firewall, ssh goes to the firewall's public address and the port Azure mapped."""
    login_name, vm = _target(target)
    api = obj.api()
    access = _ensure_open(obj, api, api.vm_id(vm), port, duration, reason, timeout)
    host, connect_port = access["connect_address"], int(access["connect_port"])
    if not host:
        raise JitError(f"The portal knows no address to reach {vm} at (no public IP?).", Exit.OTHER, "no-address")
    user = user or login_name
    command = ["ssh", "-p", str(connect_port), *(["-l", user] if user else []), host, *ssh_args]
    obj.emit({"access": access, "command": command})
    sys.stdout.flush()
    if shutil.which("ssh") is None:
        raise JitError("No ssh command on PATH: " + " ".join(command), Exit.OTHER, "no-ssh")
    os.execvp("ssh", command)


@cli.command()
@click.argument("target")
@click.option("--port", "-p", default=RDP_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--user", "-l", help="The account on the VM (or write user@VM).")
@click.option("--for", "duration", default="1h", show_default=True)
@click.option("--reason", "-r")
@click.option("--timeout", default="15m", show_default=True)
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the .rdp.")
@click.option("--open/--no-open", "open_it", default=True, help="Open the .rdp with the desktop's RDP client.")
@output_option
@click.pass_obj
def rdp(
    obj: Context,
    target: str,
    port: int,
    user: str | None,
    duration: str,
    reason: str | None,
    timeout: str,
    path: Path | None,
    open_it: bool,
) -> None:
    """Remote Desktop to a VM: requests access when needed, writes the .rdp and opens it."""
    login_name, vm = _target(target)
    api = obj.api()
    access = _ensure_open(obj, api, api.vm_id(vm), port, duration, reason, timeout)
    address = f"{access['connect_address']}:{access['connect_port']}"
    path = path or Path(f"{vm.rsplit('/', 1)[-1]}.rdp")
    lines = [f"full address:s:{address}", "prompt for credentials:i:1", "administrative session:i:0"]
    if user or login_name:
        lines.append(f"username:s:{user or login_name}")
    path.write_text("\r\n".join(lines) + "\r\n")
    opener = _rdp_opener() if open_it else None
    if opener == "startfile":
        os.startfile(path)  # noqa: S606 - Windows: the .rdp's own handler (mstsc)
    elif opener:
        subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    said = (
        f"; opening it with {opener}."
        if opener
        else "."
        if not open_it
        else f". No RDP client to open it here: open it with yours (Windows App, Remmina, xfreerdp /v:{address})."
    )
    obj.emit({"access": access, "file": str(path), "opened": bool(opener)}, f"Wrote {path} ({address}){said}")


def _rdp_opener() -> str | None:
    """What opens an .rdp here: Windows' own handler (mstsc), macOS' `open`, or on Linux `xdg-open` when the
    desktop names a default application for .rdp files (xdg-open alone opens nothing without one, and Debian's
    `open` is openvt); None when no client is known."""
    if sys.platform == "win32":
        return "startfile"
    if sys.platform == "darwin":
        return "open" if shutil.which("open") else None
    if not (shutil.which("xdg-open") and shutil.which("xdg-mime")):
        return None
    try:
        handler = subprocess.run(
            ["xdg-mime", "query", "default", "application/x-rdp"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return "xdg-open" if handler else None


def _request_id(api: Api, ref: str) -> str:
    """A request's id, or the VM whose open request is meant."""
    if ref.isdigit():
        return ref
    vm_id = api.vm_id(ref)
    ids = sorted({str(i["request_id"]) for i in api.get("access") if i["vm_id"].lower() == vm_id.lower()})
    if not ids:
        raise JitError(f"Nothing is open on {ref}.", Exit.OTHER, "not-found")
    if len(ids) > 1:
        raise JitError(f"{ref} has {len(ids)} open requests ({', '.join(ids)}): give the request's id.", Exit.USAGE)
    return ids[0]


@cli.command()
@click.argument("ref")
@click.option("--for", "duration", default="1h", show_default=True, help="The new window, from now.")
@click.option("--wait", is_flag=True, help="Wait when the extension needs approval.")
@click.option("--timeout", default="15m", show_default=True)
@output_option
@click.pass_obj
def extend(obj: Context, ref: str, duration: str, wait: bool, timeout: str) -> None:
    """Extend an open request (its id, or the VM) by a new window from now."""
    api = obj.api()
    created = api.post(f"requests/{_request_id(api, ref)}/extend", {"duration_minutes": minutes(duration)})
    if wait:
        created = _wait(obj, api, created, minutes(timeout) * 60)
    _finish(obj, created, wait)


def _request_of(api: Api, ref: str, vm_id: str, ports: tuple[int, ...]) -> str:
    """The one request whose open ports of this VM (those in `ports`, when given) are meant."""
    on_vm = [i for i in api.get("access") if i["vm_id"].lower() == vm_id.lower()]
    meant = [i for i in on_vm if not ports or i["port"] in ports]
    ids = sorted({str(i["request_id"]) for i in meant})
    if not ids:
        asked = f" port {', '.join(map(str, ports))}" if ports else ""
        raise JitError(
            f"Nothing is open on {ref}{asked}" + (f" (open: {_pairs(on_vm)})." if on_vm else "."),
            Exit.OTHER,
            "not-open",
        )
    if len(ids) > 1:
        raise JitError(
            f"{ref} has ports open in {len(ids)} requests ({', '.join(ids)}): give --port, or the request's id.",
            Exit.USAGE,
            "usage",
        )
    return ids[0]


def _pairs(items: list[dict]) -> str:
    return ", ".join(f"{i['vm_name']} port {i['port']}" for i in items)


def _confirm_all(obj: Context, request_id: str, chosen: list[dict], vm: str) -> None:
    """Several ports would end: say which, and ask (the web's "End all N" asks too); a script says --all."""
    what = f"Request {request_id} has {len(chosen)} ports open{f' on {vm}' if vm else ''}: {_pairs(chosen)}."
    if not sys.stdin.isatty():
        raise JitError(f"{what} Give --port to end one, or --all to end all {len(chosen)}.", Exit.USAGE, "usage")
    if not click.confirm(f"{what} End all {len(chosen)}?", err=True):
        raise JitError("Nothing ended.", Exit.OTHER, "not-confirmed")


@cli.command()
@click.argument("ref")
@click.option(
    "--port",
    "-p",
    "ports",
    type=click.IntRange(0, 65535),
    multiple=True,
    help="End only this port (repeat for more); the rest stays open.",
)
@click.option("--all", "every", is_flag=True, help="End every port open without asking, when several are.")
@output_option
@click.pass_obj
def end(obj: Context, ref: str, ports: tuple[int, ...], every: bool) -> None:
    """End open access now (a request's id, or the VM), or cancel a request waiting for approval.

    One port open: it ends. Several: it names them and asks, or give --port (one VM's port, as My access' End on
    one row) or --all."""
    api = obj.api()
    vm_id = None if ref.isdigit() else api.vm_id(ref)
    request_id = ref if vm_id is None else _request_of(api, ref, vm_id, ports)
    current = api.get(f"requests/{request_id}")
    if current.get("status") == "awaiting":  # nothing open to end: the portal cancels it ("Cancel request")
        cancelled = api.post(f"requests/{request_id}/cancel")
        obj.emit(cancelled, _items_text(cancelled))
        return
    open_items = [i for i in current.get("items") or [] if i.get("fate") == "open"]
    chosen = [
        i
        for i in open_items
        if (vm_id is None or i["vm_id"].lower() == vm_id.lower()) and (not ports or i["port"] in ports)
    ]
    if not chosen:
        shown = f" port {', '.join(map(str, ports))}" if ports else ""
        raise JitError(
            f"Nothing of request {request_id}{shown} is open"
            + (f" (open: {_pairs(open_items)})." if open_items else "."),
            Exit.OTHER,
            "not-open",
        )
    if len(chosen) > 1 and not ports and not every:
        _confirm_all(obj, request_id, chosen, "" if vm_id is None else ref)
    if len(chosen) == len(open_items):  # all of it: one call, as the request page's End
        ended = api.post(f"requests/{request_id}/end")
    else:
        for item in chosen:
            ended = api.post(f"items/{item['id']}/end")
    obj.say(f"Ended {_pairs(chosen)}: {'it closes' if len(chosen) == 1 else 'they close'} within a minute.")
    obj.emit(ended, _items_text(ended))


# --- approvals ---------------------------------------------------------------------------------------------
@cli.command()
@output_option
@click.pass_obj
def approvals(obj: Context) -> None:
    """Requests waiting for your decision."""
    items = obj.api().get("approvals")
    table = Table("id", "who", "VMs", "ports", "for", "reason", "state", "you may decide", box=None)
    for waiting in items:
        r = waiting["request"]
        vms = ", ".join(sorted({i["vm_name"] for i in r["items"]}))
        ports = ", ".join(sorted({str(i["port"]) for i in r["items"]}))
        table.add_row(
            str(r["id"]),
            r["requester"],
            vms,
            ports,
            duration_words(r["duration_minutes"]),
            r["justification"],
            r["state"],
            "yes" if waiting["can_decide"] else f"no: {waiting['why_not']}",
        )
    obj.emit({"items": items}, table if items else "Nothing waits for you.")


def _decide(obj: Context, request_id: int, decision: str, comment: str) -> None:
    decided = obj.api().post(f"requests/{request_id}/decision", {"decision": decision, "comment": comment})
    obj.emit(decided, _items_text(decided))


@cli.command()
@click.argument("request_id", type=int)
@click.option("--comment", "-c", default="", help="A word for the requester and the trail.")
@output_option
@click.pass_obj
def approve(obj: Context, request_id: int, comment: str) -> None:
    """Approve a request (the last approval opens it, with your Azure rights)."""
    _decide(obj, request_id, "approve", comment)


@cli.command()
@click.argument("request_id", type=int)
@click.option("--comment", "-c", required=True, help="Why: the requester reads it.")
@output_option
@click.pass_obj
def deny(obj: Context, request_id: int, comment: str) -> None:
    """Deny a request, saying why."""
    _decide(obj, request_id, "deny", comment)


# --- audit -------------------------------------------------------------------------------------------------
@cli.command()
@click.option("--since", "since_text", default="7d", show_default=True, help="7d, 24h, or a date (2026-12-01).")
@click.option("--until", "until_text", help="A date or time; default: now.")
@click.option("--vm", help="One VM's name.")
@click.option("--csv", "as_csv", is_flag=True, help="The report's CSV, streamed to stdout.")
@output_option
@click.pass_obj
def audit(obj: Context, since_text: str, until_text: str | None, vm: str | None, as_csv: bool) -> None:
    """The audit report: Azure's JIT activity explained (auditors and admins)."""
    now = _now()
    # The report filters by whole days (UTC), as its page does.
    params = {
        "start": since(since_text, now).date().isoformat(),
        "end": since(until_text, now).date().isoformat() if until_text else None,
        "vm": vm,
    }
    api = obj.api()
    if as_csv:
        for chunk in api.stream("audit/report", **params, format="csv"):
            sys.stdout.buffer.write(chunk)
        return
    rows = list(api.pages("audit/report", **params, per_page=200))
    table = Table("time", "initiated by", "VMs", "ports", "operation", "status", "approver", box=None)
    for row in rows:
        table.add_row(
            row["time"],
            row["initiated_by"],
            row["vms"] or row["resource"],
            row["ports"],
            row["operation"],
            row["status"],
            row["approver"],
        )
    obj.emit({"items": rows}, table if rows else "Nothing in that window.")


# --- shell completion --------------------------------------------------------------------------------------
@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell's completion script: eval "$(jit completion bash)" in ~/.bashrc."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)(cli, {}, "jit", "_JIT_COMPLETE")
    click.echo(completer.source())


def main() -> None:
    cli(prog_name="jit")
