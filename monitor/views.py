"""Pages and JSON endpoints of the monitor."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import (Blueprint, Response, abort, current_app, jsonify, redirect, render_template,
                   request, send_file, url_for)

from .bench import benchmarks, results
from .evaluations import evaluation_rows
from .series import (PANELS, X_LABELS, aggregate, columns, flat_config, group_key,
                     group_labels, panel_keys, run_curve)
from .progress import Log
from .storage import Storage

log = logging.getLogger(__name__)
bp = Blueprint("monitor", __name__)
MAX_COMPARE = 60
CAPTION_CHARS = 80
ANALYSIS_LABELS = {"pca": "PCA of each layer's activity", "decode": "linear decoding R^2",
                   "rsa": "representational similarity (linear CKA)", "weights": "weight statistics"}


def storage() -> Storage:
    """The app's ``Storage``."""
    return current_app.extensions["dexterity_storage"]


@bp.app_template_filter("num")
def format_number(value: Any) -> str:
    """A number with 4 significant digits ("–" for none)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    return f"{value:.4g}"


@bp.app_template_filter("si")
def format_si(value: Any) -> str:
    """A count with a k/M/G suffix ("–" for none)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:g}"


@bp.before_app_request
def refuse_cross_site_posts() -> None:
    """Bookmark and delete only from the monitor's own pages (no cross-site form posts)."""
    if request.method != "POST":
        return
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403)
    if request.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
        abort(403)


def _safe_row(agent_id: str) -> dict[str, Any]:
    """An overview row; an unexpected failure becomes a message on that row."""
    try:
        return storage().row(agent_id)
    except Exception as exc:  # noqa: BLE001 - one bad experiment must not break the page
        log.exception("experiment %s", agent_id)
        return {"id": agent_id, "errors": [f"could not be read: {type(exc).__name__}"]}


def _rows(group: str | None) -> list[dict[str, Any]]:
    """Overview rows, only those of experiment group ``group`` when given."""
    rows = [_safe_row(agent_id) for agent_id in storage().ids()]
    return [r for r in rows if r.get("group") == group] if group else rows


@bp.route("/")
def overview() -> str:
    """Every experiment as a row of a sortable, filterable table (``?group=NAME``: one group's)."""
    group = request.args.get("group") or None
    every = _rows(None)
    rows = [r for r in every if r.get("group") == group] if group else every
    groups = sorted({r["group"] for r in every if r.get("group")})
    return render_template("overview.html", rows=rows, root=str(storage().root), groups=groups, group=group)


@bp.route("/api/experiments")
def api_experiments() -> Response:
    """The overview rows as JSON (``?group=NAME``: only that experiment group's)."""
    return jsonify(_rows(request.args.get("group") or None))


def _experiment_or_404(agent_id: str):
    """The folder of an experiment, or a 404."""
    exp_dir = storage().experiment_dir(agent_id)
    if exp_dir is None:
        abort(404)
    return exp_dir


def _generation(plog: Any) -> int | None:
    """Identity of the progress file's current version (its inode)."""
    return plog.key[2] if plog.key else None


def analysis_caption(name: str, info: Any) -> str | None:
    """A one-line caption for an analysis figure: what it is and its JSON's top-level keys."""
    if info is None:
        return None
    stem = name[:-4]
    text = ANALYSIS_LABELS.get(stem.lower(), stem)
    if isinstance(info, dict) and info:
        text += ": " + ", ".join(str(k) for k in info)
    return text if len(text) <= CAPTION_CHARS else text[:CAPTION_CHARS - 1] + "…"


def _analysis_figures(exp_dir: Any) -> list[dict[str, Any]]:
    """``{"name", "caption"}`` of every analysis figure; an unreadable JSON gives no caption."""
    st, figures = storage(), []
    for name in st.analysis_figures(exp_dir):
        try:
            caption = analysis_caption(name, st.analysis_info(exp_dir, name))
        except Exception:  # noqa: BLE001 - a caption is never worth an error page
            log.exception("analysis caption %s", name)
            caption = None
        figures.append({"name": name, "caption": caption})
    return figures


def _plot_data(agent_id: str, meta: dict[str, Any], plog: Any, running: bool) -> dict:
    """What experiment.js needs to draw the panels."""
    resumed, records = meta.get("resumed_at"), plog.records
    return {"id": agent_id, "panels": PANELS, "x_labels": X_LABELS, "gen": _generation(plog),
            "columns": columns(records, panel_keys()), "count": len(records),
            "threshold": meta.get("reward_threshold"), "running": running,
            "resumed_at": [r for r in resumed if isinstance(r, (int, float))]
            if isinstance(resumed, list) else [],
            "progress_url": url_for("monitor.api_progress", agent_id=agent_id)}


@bp.route("/experiment/<agent_id>")
def experiment(agent_id: str) -> str:
    """Plots, hyperparameters, reward config, gifs, analysis figures and evaluations."""
    st = storage()
    exp_dir = _experiment_or_404(agent_id)
    meta, meta_error = st.meta(exp_dir)
    errors = [meta_error] if meta_error else []
    try:
        plog = st.log(exp_dir)
        row = _safe_row(agent_id)
        reward = meta.get("reward_config")
        reward = reward if isinstance(reward, dict) else None
        evaluations, eval_error = st.evaluations(exp_dir)
        eval_rows, eval_columns = evaluation_rows(evaluations)
        errors += [e for e in (plog.error, eval_error) if e]
        if plog.bad_lines:
            errors.append(f"{plog.bad_lines} corrupt progress line(s) skipped")
        context = dict(
            meta=meta, row=row, config=flat_config(meta.get("config")), reward=reward,
            reward_values=flat_config(reward.get("values")) if reward else [],
            evaluations=eval_rows, eval_columns=eval_columns, gifs=st.gifs(exp_dir),
            analysis=_analysis_figures(exp_dir),
            data=_plot_data(agent_id, meta, plog, bool(row.get("running"))))
    except Exception as exc:  # noqa: BLE001
        log.exception("experiment %s", agent_id)
        errors.append(f"could not be read: {type(exc).__name__}")
        context = dict(meta=meta, row={"id": agent_id}, config=[], reward=None,
                       reward_values=[], evaluations=[], eval_columns={}, gifs=[], analysis=[],
                       data=_plot_data(agent_id, {}, Log(), False))
    return render_template("experiment.html", agent_id=agent_id, errors=errors, **context)


@bp.route("/api/experiment/<agent_id>/progress")
def api_progress(agent_id: str) -> Response:
    """Progress records from index ``since`` on, as columns (``reset`` if the file shrank)."""
    st = storage()
    exp_dir = _experiment_or_404(agent_id)
    since = request.args.get("since", default=0, type=int) or 0
    gen = request.args.get("gen", type=int)
    plog = st.log(exp_dir)
    records, current = plog.records, _generation(plog)
    # reset: the client's view is from a file since replaced (a resumed run rewrites it)
    reset = since < 0 or since > len(records) or (gen is not None and gen != current)
    new = records if reset else records[since:]
    meta, _ = st.meta(exp_dir)
    summary = st.summary(agent_id)
    return jsonify({"since": 0 if reset else since, "count": len(records), "reset": reset,
                    "gen": current,
                    "columns": columns(new, panel_keys()),
                    "running": st.is_running(meta, summary), "status": meta.get("status")})


@bp.route("/experiment/<agent_id>/gifs/<name>")
def gif(agent_id: str, name: str) -> Response:
    """A gif from the experiment's ``gifs/`` folder."""
    return _send_or_404(storage().gif_path(_experiment_or_404(agent_id), name), "image/gif", 3600)


@bp.route("/experiment/<agent_id>/analysis/<name>")
def analysis_figure(agent_id: str, name: str) -> Response:
    """A figure from the experiment's ``analysis/`` folder (written by ``python -m analysis``)."""
    return _send_or_404(storage().analysis_path(_experiment_or_404(agent_id), name), "image/png", 60)


def _send_or_404(path: Any, mimetype: str, max_age: int) -> Response:
    """Send a file of an experiment that storage found (None: missing or refused -> 404)."""
    if path is None:
        abort(404)
    return send_file(path, mimetype=mimetype, max_age=max_age)


def _wants_json() -> bool:
    """True for fetch() calls from our scripts, False for plain form posts."""
    return request.headers.get("X-Requested-With") == "fetch"


@bp.route("/experiment/<agent_id>/bookmark", methods=["POST"])
def bookmark(agent_id: str) -> Response:
    """Toggle the bookmark marker of an experiment."""
    state = storage().toggle_bookmark(agent_id)
    if state is None:
        abort(404)
    if _wants_json():
        return jsonify({"id": agent_id, "bookmarked": state})
    return redirect(request.referrer or url_for("monitor.overview"))


@bp.route("/experiment/<agent_id>/delete", methods=["POST"])
def delete(agent_id: str) -> Response:
    """Delete an experiment and its saved models (the page asks for confirmation first)."""
    _experiment_or_404(agent_id)
    if request.form.get("confirm") != agent_id:
        abort(400, "confirm must repeat the experiment id")
    if not storage().delete(agent_id):
        abort(404)
    if _wants_json():
        return jsonify({"id": agent_id, "deleted": True})
    return redirect(url_for("monitor.overview"))


def _compare_data(ids: list[str], by_group: bool = False) -> tuple[list[dict], list[str]]:
    """Groups of experiments with equal configs (apart from seed), with their curves and mean +- std;
    with ``by_group`` the experiment groups instead, with the 95% confidence band of the mean."""
    st, groups, errors = storage(), {}, []
    for agent_id in ids:
        exp_dir = st.experiment_dir(agent_id)
        if exp_dir is None:
            errors.append(f"{agent_id}: no such experiment")
            continue
        meta, meta_error = st.meta(exp_dir)
        plog = st.log(exp_dir)
        curve = run_curve(plog.records)
        if not curve["y"]:
            errors.append(f"{agent_id}: no returns yet" + (f" ({plog.error})" if plog.error else ""))
            continue
        if meta_error:
            errors.append(f"{agent_id}: {meta_error}")
        key = str(meta.get("experiment_group") or "(no group)") if by_group else group_key(meta)
        groups.setdefault(key, {"meta": meta, "runs": []})["runs"].append(
            {"id": agent_id, "seed": (meta.get("config") or {}).get("seed")
             if isinstance(meta.get("config"), dict) else None, **curve})
    values = list(groups.values())
    labels = list(groups) if by_group else group_labels([g["meta"] for g in values])
    band = "ci95" if by_group else "std"
    out = [{"label": label, "env": g["meta"].get("env_id"),
            "threshold": g["meta"].get("reward_threshold"), "runs": g["runs"],
            "final": sum(r["y"][-1] for r in g["runs"]) / len(g["runs"]),
            "band": "95% CI" if by_group else "± std",
            "agg": {x: aggregate(g["runs"], x, band=band) for x in X_LABELS}}
           for label, g in zip(labels, values)]
    return out, errors


def _split(text: str) -> list[str]:
    """A comma- or space-separated list of names, without repeats."""
    return list(dict.fromkeys(i for i in text.replace(" ", ",").split(",") if i))


@bp.route("/compare")
def compare() -> str:
    """Return curves of chosen experiments on shared axes, grouped by config; with
    ``?groups=A|B`` (``|``-separated: group names may hold commas) every run of those experiment
    groups, one curve per group with the 95% confidence band of its mean."""
    wanted = [g for g in dict.fromkeys(request.args.get("groups", "").split("|")) if g]
    errors: list[str] = []
    if wanted:
        known = storage().groups()
        errors += [f"{g}: no such experiment group" for g in wanted if g not in known]
        ids = [i for g in wanted for i in known.get(g, [])][:MAX_COMPARE]
    else:
        ids = _split(request.args.get("ids", ""))[:MAX_COMPARE]
    groups, more = _compare_data(ids, by_group=bool(wanted))
    return render_template("compare.html", ids=[] if wanted else ids, errors=errors + more,
                           data={"groups": groups, "x_labels": X_LABELS}, wanted=wanted,
                           all_ids=storage().ids()[:500], all_groups=list(storage().groups()))


@bp.route("/benchmarks")
def benchmarks_page() -> str:
    """Results of benchmark.py: the committed results (mean +- std over seeds) and the storage's
    benchmark files (mean return per config with its 95% confidence band)."""
    root = current_app.extensions.get("dexterity_results")
    return render_template("benchmarks.html", benches=benchmarks(storage().benchmarks_root),
                           suites=results(root), results_root=str(root or ""), known=set(storage().ids()))
