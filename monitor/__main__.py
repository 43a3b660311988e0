"""Command line: ``python -m monitor --storage DIR --host 127.0.0.1 --port 5000``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .app import create_app, default_results  # not via __init__: works under any import mode


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="dexterity-monitor",
        description="Follow and compare dexterity experiments in a web browser.")
    parser.add_argument("--storage", default=os.environ.get("DEXTERITY_STORAGE", "./storage"),
                        help="storage root holding experiments/ (default: $DEXTERITY_STORAGE "
                             "or ./storage)")
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="committed benchmark results shown on the Benchmarks page, DIR/<suite>/<env>.json "
                             "(default: the repository's benchmarks/results)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1: this machine only; "
                             "use an SSH tunnel to look from elsewhere)")
    parser.add_argument("--port", type=int, default=5000, help="port, 1 to 65535 (default 5000)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests addressed to NAME (a tunnel's or reverse proxy's "
                             "host name); 127.0.0.1, localhost and --host are always answered")
    parser.add_argument("--debug", action="store_true",
                        help="Flask debug mode (never on a shared machine: it allows code execution)")
    return parser.parse_args(argv)


def allowed_hosts(args: argparse.Namespace) -> list[str]:
    """Host names the monitor answers besides 127.0.0.1/localhost: --host and every --allow-host."""
    return [h for h in dict.fromkeys([args.host, *args.allow_host]) if h not in ("0.0.0.0", "::", "")]


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port (port in use, unknown host), or None if it can.

    Probes the address family werkzeug binds: IPv6 when the host has a ':', else IPv4; a unix://
    socket host is left to the server."""
    import socket
    if host.startswith("unix://"):
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(host or None, port, family, socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            probe.bind(infos[0][4])
    except socket.gaierror as exc:
        return f"unknown host ({exc.strerror})"
    except UnicodeError:
        return "not a valid host name"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    """Start the monitor's web server (Flask's threaded server)."""
    args = parse_args(argv)
    root = Path(args.storage)
    if not 1 <= args.port <= 65535:
        print(f"error: --port must be in 1..65535, got {args.port}", file=sys.stderr)
        return 2
    if root.exists() and not root.is_dir():
        print(f"error: --storage {args.storage} is not a folder", file=sys.stderr)
        return 2
    if not (root / "experiments").is_dir():
        print(f"[monitor] note: {root.resolve()}/experiments does not exist (yet); "
              "the overview stays empty until a run writes there", file=sys.stderr)
    results = Path(args.results) if args.results else default_results()
    if results is not None and not results.is_dir():
        print(f"error: --results {args.results}: no such folder", file=sys.stderr)
        return 2
    problem = port_problem(args.host, args.port)
    if problem:
        print(f"error: cannot serve on {args.host}:{args.port}: {problem}", file=sys.stderr)
        return 2
    app = create_app(root, allowed_hosts(args), results)
    print(f"[monitor] storage {root.resolve()} -> http://{args.host}:{args.port}/", file=sys.stderr)
    if args.host in ("0.0.0.0", "::", ""):
        print(f"[monitor] listening on every interface, but answering only requests for "
              f"{', '.join(allowed_hosts(args))} (add names with --allow-host)", file=sys.stderr)
    app.run(host=args.host, port=args.port, debug=args.debug, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
