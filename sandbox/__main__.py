"""`python -m sandbox`: run the local Azure stand-in in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from . import demo, publish
from .lifecycle import exit_with_parent
from .server import make_server

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "sandbox"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", demo.DEFAULT_PORT)))
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SANDBOX_DATA_DIR", DEFAULT_DATA_DIR)))
    # Resource Graph lags ARM by seconds: the demo shows it; tests pass 0 and set it where they test it.
    parser.add_argument(
        "--graph-lag",
        type=float,
        default=float(os.environ.get("SANDBOX_GRAPH_LAG_SECONDS", 3)),
        help="seconds before a write shows in Resource Graph (default 3, or SANDBOX_GRAPH_LAG_SECONDS)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started it ends")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="sandbox: %(message)s")

    args.data_dir = args.data_dir.resolve()  # the published CA path must work from any directory
    server, app = make_server(args.data_dir, args.port, graph_lag_seconds=max(0.0, args.graph_lag))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    if args.exit_with_parent:
        exit_with_parent()
    base = f"https://127.0.0.1:{app.port}"
    # Only now is the port known (--port 0 picks one), and clients that read the file can connect.
    publish.write_env_file(args.data_dir / "connection.env", publish.environment(base, app.material.ca_path))
    print(f"sandbox: Entra ID and ARM at {base} (tenant {demo.TENANT_ID})", flush=True)
    print(f"sandbox: CA certificate {app.material.ca_path}", flush=True)
    print(f"sandbox: control API {base}/_sandbox/info", flush=True)
    print(f"sandbox: connection settings {args.data_dir / 'connection.env'}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
