"""The Flask application factory and the route serving plotly.js from the plotly package."""
from __future__ import annotations

import gzip
import hashlib
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, request, url_for

from .storage import Storage

_STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_plotly_lock = threading.Lock()
_plotly_cache: dict[str, bytes] = {}


def plotly_version() -> str:
    """Version of the installed plotly package (part of the script URL, for cache busting)."""
    try:
        return metadata.version("plotly")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "0"


def _plotly_bytes(compressed: bool) -> bytes:
    """plotly.min.js from the plotly package (gzip-compressed once on demand), cached."""
    key = "gz" if compressed else "raw"
    with _plotly_lock:
        if key not in _plotly_cache:
            if "raw" not in _plotly_cache:
                from plotly.offline import get_plotlyjs
                _plotly_cache["raw"] = get_plotlyjs().encode("utf-8")
            if compressed:
                _plotly_cache["gz"] = gzip.compress(_plotly_cache["raw"], compresslevel=6, mtime=0)
        return _plotly_cache[key]


def plotly_js() -> Response:
    """Serve plotly.js with long-lived caching headers (the URL carries the version)."""
    gz = "gzip" in request.headers.get("Accept-Encoding", "")
    body = _plotly_bytes(gz)
    etag = hashlib.sha1(plotly_version().encode()).hexdigest()[:16]
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/javascript")
        if gz:
            response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag)
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = "public, max-age=604800, immutable"
    return response


def asset_url(filename: str) -> str:
    """URL of a file in ``static/`` with its modification time as version (no stale caches)."""
    try:
        version = int(os.path.getmtime(os.path.join(_STATIC, filename)))
    except OSError:
        version = 0
    return url_for("static", filename=filename, v=version)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_name(host: str) -> str:
    """The name part of a Host header ("localhost:5000" -> "localhost", "[::1]:5000" -> "::1")."""
    try:
        return (urlsplit("//" + host).hostname or "").lower()
    except ValueError:  # e.g. a malformed IPv6 literal
        return ""


def default_results() -> Path | None:
    """The repository's committed benchmark results (``benchmarks/results`` beside ``monitor/``), if present."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    return folder if folder.is_dir() else None


def create_app(storage_root: Path | str, hosts: Iterable[str] = (),
               results_root: Path | str | None = None) -> Flask:
    """The monitor app reading ``storage_root`` (the folder holding ``experiments/``) and, on the
    Benchmarks page, the committed results under ``results_root`` (none when None).

    It answers only requests whose Host header names the monitor: 127.0.0.1, localhost, ::1 and
    ``hosts`` (the ``--host`` it serves on and ``--allow-host`` names). Any other Host (a page
    on another site reaching the monitor through a rebound DNS name) gets 403.
    """
    from .views import bp

    allowed = {host_name(h) or h.lower() for h in (*LOCAL_HOSTS, *hosts)}
    app = Flask(__name__)
    app.extensions["dexterity_storage"] = Storage(storage_root)
    app.extensions["dexterity_results"] = Path(results_root).expanduser().resolve() if results_root else None
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False
    app.register_blueprint(bp)
    app.add_url_rule("/vendor/plotly.min.js", "plotly_js", plotly_js)

    @app.context_processor
    def globals_for_templates() -> dict:
        return {"plotly_version": plotly_version(), "storage_root": str(Path(storage_root)),
                "asset": asset_url}

    @app.before_request
    def refuse_unknown_hosts() -> Response | None:
        if host_name(request.host) not in allowed:
            return Response(f"403: host {request.host!r} is not served here; start the monitor with "
                            f"--allow-host NAME to allow it\n", status=403, mimetype="text/plain")
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
