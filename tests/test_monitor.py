"""Flask test-client tests of the monitor: pages, APIs, corrupt files, the command line
(bookmark, delete, traversal and served files: test_monitor_files.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import progress_records
from fake_storage import make_benchmark, make_experiment, write_progress
from monitor_fixtures import client, page_data, root, strict_json  # noqa: F401 (fixtures)
from monitor import create_app
from monitor.__main__ import parse_args
from monitor.files import parse_lines
from monitor.series import aggregate

ROOT = Path(__file__).resolve().parents[1]


def test_overview_lists_every_experiment(client) -> None:
    res = client.get("/")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    for agent_id in ("exp-a", "exp-b", "exp-c"):
        assert f'data-id="{agent_id}"' in html
    assert "CartPole-v1" in html and "manipulate.default" in html and "simple / ffn / gaussian" in html
    rows = {r["id"]: r for r in strict_json(client.get("/api/experiments").data)}
    assert rows["exp-a"]["iterations"] == 40 and rows["exp-a"]["frames"] == 40 * 2048
    assert rows["exp-a"]["best"] >= rows["exp-a"]["last"] > 0
    assert rows["exp-a"]["status"] == "finished" and rows["exp-a"]["errors"] == []


def test_overview_of_empty_or_missing_storage(tmp_path: Path) -> None:
    res = create_app(tmp_path / "nothing").test_client().get("/")
    assert res.status_code == 200 and b"No experiments" in res.data


def test_running_and_stalled(root: Path, client) -> None:
    make_experiment(root, "live", cycles=5, status="running")
    make_experiment(root, "dead", cycles=5, status="running")
    old = time.time() - 3600
    os.utime(root / "experiments" / "dead" / "progress.jsonl", (old, old))
    rows = {r["id"]: r for r in client.get("/api/experiments").get_json()}
    assert rows["live"]["status"] == "running" and rows["live"]["running"]
    assert rows["dead"]["status"] == "stalled" and not rows["dead"]["running"]


def test_experiment_page(client) -> None:
    res = client.get("/experiment/exp-a")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "manipulate.default" in html and "batch_size" in html
    assert "/experiment/exp-a/gifs/" in html and "Evaluations" in html
    # the second evaluation (fake_storage._evaluation(1)): on the full task, sampled, 0.5 goals (max 2)
    assert "consecutive goals (max)" in html and "<td>sampled</td>" in html and "0.5 (2)" in html
    assert ">12345<" in html
    assert "forked_from" not in html  # exp-a is no fork (test_fork_is_linked_to_its_parent)
    assert "&#34;goal_angle&#34;: null" in html and "2026-11-24T12:01:00Z" in html
    data = page_data(res.data)
    assert data["count"] == 40 and len(data["columns"]["rollout/return_mean"]) == 40
    assert data["threshold"] == 475.0 and data["resumed_at"] == [0, 20]
    assert {p["id"] for p in data["panels"]} >= {"return", "loss", "kl", "lr", "norm", "speed", "memory"}
    assert "rollout/success_rate" not in data["columns"]  # absent keys are not sent
    assert 'src="/vendor/plotly.min.js' in html and "cdn" not in html.lower()


def test_experiment_page_shows_why_a_run_failed(root: Path, client) -> None:
    from dexterity.storage import ExperimentLog
    make_experiment(root, "broken", cycles=3, status="failed")
    ExperimentLog("broken", folder=root / "experiments" / "broken").update_meta(
        error="environment 'Pendulum-v1' failed with its options {'g': 'abc'}")
    html = client.get("/experiment/broken").get_data(as_text=True)
    assert "<th>error</th><td>environment &#39;Pendulum-v1&#39; failed with its options" in html
    assert "<th>error</th>" not in client.get("/experiment/exp-a").get_data(as_text=True)


def test_progress_api_since_and_growth(client, root: Path) -> None:
    res = strict_json(client.get("/api/experiment/exp-b/progress?since=25").data)
    assert res["count"] == 30 and not res["reset"] and len(res["columns"]["iteration"]) == 5
    path = root / "experiments" / "exp-b" / "progress.jsonl"
    write_progress(path, 3, seed=1, start=30)
    with open(path, "a") as f:
        f.write('{"iteration": 33, "frames": 1, "time/wa')  # the trainer is writing this line
    res = client.get("/api/experiment/exp-b/progress?since=30").get_json()
    assert res["count"] == 33 and res["columns"]["iteration"] == [30, 31, 32]
    with open(path, "a") as f:
        f.write('ll": 70.0}\n')
    res = client.get("/api/experiment/exp-b/progress?since=33").get_json()
    assert res["count"] == 34 and res["columns"]["iteration"] == [33]
    assert client.get("/api/experiment/exp-b/progress?since=999").get_json()["reset"]


def test_file_rewritten_shorter_is_reread(client, root: Path) -> None:
    client.get("/experiment/exp-b")
    path = root / "experiments" / "exp-b" / "progress.jsonl"
    path.write_text("")
    write_progress(path, 4, seed=1)
    assert client.get("/api/experiment/exp-b/progress").get_json()["count"] == 4
    assert client.get("/api/experiments").get_json()[1]["iterations"] == 4


def test_non_finite_values_never_reach_the_browser(client, root: Path) -> None:
    with open(root / "experiments" / "exp-b" / "progress.jsonl", "a") as f:
        f.write('{"iteration": 30, "frames": 5, "time/wall": 1.0, "rollout/return_mean": NaN, '
                '"train/entropy": Infinity}\n')
    strict_json(client.get("/api/experiment/exp-b/progress?since=29").data)
    strict_json(client.get("/api/experiments").data)
    page_data(client.get("/experiment/exp-b").data)


@pytest.mark.parametrize("content", ['{"env_id": "Cart', "", "[1, 2]", "\x00\xff garbage"])
def test_corrupt_meta_is_a_message_not_a_500(client, root: Path, content: str) -> None:
    (root / "experiments" / "exp-b" / "meta.json").write_text(content, encoding="latin-1")
    res = client.get("/")
    assert res.status_code == 200 and b"exp-c" in res.data
    assert b"meta.json" in res.data
    res = client.get("/experiment/exp-b")
    assert res.status_code == 200 and b"meta.json" in res.data
    assert client.get("/compare?ids=exp-b,exp-c").status_code == 200


def test_corrupt_progress_lines(client, root: Path) -> None:
    path = root / "experiments" / "exp-c" / "progress.jsonl"
    lines = path.read_text().splitlines()
    lines[3] = lines[3][:20]  # a broken line in the middle
    path.write_text("\n".join(lines) + '\n{"iteration": 35, "fra')
    res = client.get("/experiment/exp-c")
    assert res.status_code == 200 and b"1 corrupt progress line" in res.data
    assert page_data(res.data)["count"] == 34
    row = [r for r in client.get("/api/experiments").get_json() if r["id"] == "exp-c"][0]
    assert row["iterations"] == 35 and row["errors"]


def test_empty_experiment_and_missing_files(client, root: Path) -> None:
    (root / "experiments" / "empty").mkdir()
    res = client.get("/")
    assert res.status_code == 200 and b"empty" in res.data and b"no progress yet" in res.data
    res = client.get("/experiment/empty")
    assert res.status_code == 200 and b"No progress records yet" in res.data
    assert client.get("/api/experiment/empty/progress").get_json()["count"] == 0
    assert b"no returns yet" in client.get("/compare?ids=empty").data


def test_progress_json_whole_file_is_read(client, root: Path) -> None:
    exp = root / "experiments" / "exp-b"
    records = progress_records(root, "exp-b")
    (exp / "progress.jsonl").unlink()
    (exp / "progress.json").write_text(json.dumps(records[:12]))
    assert page_data(client.get("/experiment/exp-b").data)["count"] == 12
    row = [r for r in client.get("/api/experiments").get_json() if r["id"] == "exp-b"][0]
    assert row["iterations"] == 12


def test_compare_groups_by_config(client) -> None:
    res = client.get("/compare?ids=exp-a,exp-b,exp-c,nope")
    assert res.status_code == 200 and b"nope: no such experiment" in res.data
    groups = page_data(res.data)["groups"]
    assert len(groups) == 2
    by_runs = {tuple(sorted(r["id"] for r in g["runs"])): g for g in groups}
    pair = by_runs[("exp-a", "exp-b")]
    assert "lr_pi=0.0003" in pair["label"]
    agg = pair["agg"]["iteration"]
    assert agg["x"][0] == 0 and agg["x"][-1] == 29  # the range both seeds cover
    assert all(lo <= m <= hi for lo, m, hi in zip(agg["low"], agg["mean"], agg["high"]))
    assert pair["agg"]["frames"] and pair["agg"]["time/wall"]
    assert by_runs[("exp-c",)]["agg"]["iteration"] is None  # one run: no spread
    assert client.get("/compare").status_code == 200


def test_benchmarks_page(client, root: Path) -> None:
    res = client.get("/benchmarks")
    assert res.status_code == 200 and b"cartpole-lr" in res.data and b"95% CI" in res.data
    data = page_data(res.data)
    assert data["results"] == []  # no committed results given to this app
    assert [c["name"] for c in data["storage"][0]["configs"]] == ["lr3e-4", "lr1e-3"]
    assert len(data["storage"][0]["configs"][0]["mean"]) == 10
    (root / "benchmarks" / "broken.json").write_text('{"name": "bro')
    (root / "benchmarks" / "odd.json").write_text('{"configs": {"x": {"mean": "no"}}}')
    res = client.get("/benchmarks")
    assert res.status_code == 200 and b"broken.json" in res.data and b"no mean curve" in res.data


def test_plotly_served_offline_with_caching(client) -> None:
    res = client.get("/vendor/plotly.min.js")
    assert res.status_code == 200 and res.mimetype == "application/javascript"
    assert b"plotly" in res.data[:400].lower() and len(res.data) > 1_000_000
    assert "max-age" in res.headers["Cache-Control"]
    etag = res.headers["ETag"]
    assert client.get("/vendor/plotly.min.js", headers={"If-None-Match": etag}).status_code == 304
    gz = client.get("/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and len(gz.data) < len(res.data) / 2


def test_static_files_and_no_external_urls(client) -> None:
    for name in ("style.css", "common.js", "overview.js", "experiment.js", "compare.js", "benchmarks.js"):
        res = client.get(f"/static/{name}")
        assert res.status_code == 200 and b"http" not in res.data, name
    for url in ("/", "/experiment/exp-a", "/compare?ids=exp-a", "/benchmarks"):
        html = client.get(url).get_data(as_text=True)
        assert "https://" not in html and "http://" not in html, url


def test_overview_best_from_checkpoint_on_cold_start(root: Path, monkeypatch) -> None:
    import monitor.progress as progress
    monkeypatch.setattr(progress, "FULL_READ_LIMIT", 1000)
    monkeypatch.setattr(progress, "TAIL_BYTES", 3000)
    info = root / "saved_models" / "exp-a" / "best" / "agent.json"
    info.write_text(json.dumps({"best_return": 12345.0}))
    client = create_app(root).test_client()
    rows = {r["id"]: r for r in client.get("/api/experiments").get_json()}
    assert rows["exp-a"]["best"] == 12345.0 and rows["exp-a"]["iterations"] == 40
    assert rows["exp-a"]["reached"] is True
    with open(root / "experiments" / "exp-a" / "progress.jsonl", "a") as f:
        f.write(json.dumps({"iteration": 40, "frames": 1, "time/wall": 1.0,
                            "rollout/return_mean": 99999.0}) + "\n")
    rows = {r["id"]: r for r in client.get("/api/experiments").get_json()}
    assert rows["exp-a"]["best"] == 99999.0 and rows["exp-a"]["last"] == 99999.0


def test_parse_lines_keeps_partial_line() -> None:
    records, used, bad = parse_lines(b'{"a": 1}\n{"a": 2}\n{"a"')
    assert records == [{"a": 1}, {"a": 2}] and used == 18 and bad == 0
    records, used, bad = parse_lines(b'{"a": 1}\nxx\n[1]\n{"a": 3}')
    assert [r["a"] for r in records] == [1, 3] and used == 24 and bad == 2


def test_aggregate_mean_and_spread() -> None:
    runs = [{"iteration": [0, 1, 2, 3], "y": [0.0, 1.0, 2.0, 3.0]},
            {"iteration": [0, 1, 2], "y": [2.0, 3.0, 4.0]}]
    agg = aggregate(runs, "iteration")
    assert agg["x"] == [0.0, 1.0, 2.0] and agg["mean"] == [1.0, 2.0, 3.0]
    assert agg["low"] == [0.0, 1.0, 2.0] and agg["high"] == [2.0, 3.0, 4.0]
    assert aggregate(runs[:1], "iteration") is None


def test_command_line_defaults(monkeypatch) -> None:
    monkeypatch.setenv("DEXTERITY_STORAGE", "/data/store")
    args = parse_args([])
    assert (args.storage, args.host, args.port, args.debug) == ("/data/store", "127.0.0.1", 5000, False)
    monkeypatch.delenv("DEXTERITY_STORAGE")
    assert parse_args(["--port", "6006"]).storage == "./storage"


def test_monitor_never_imports_tensorflow(root: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_benchmark(results, name="HalfCheetah-v5", cycles=5)  # a results suite "benchmarks" for the page
    code = (
        "import sys\n"
        "from monitor import create_app\n"
        f"c = create_app({str(root)!r}, results_root={str(results)!r}).test_client()\n"
        "for u in ('/', '/experiment/exp-a', '/compare?ids=exp-a,exp-b', '/benchmarks',"
        " '/vendor/plotly.min.js'):\n"
        "    assert c.get(u).status_code == 200, u\n"
        "assert b'HalfCheetah-v5' in c.get('/benchmarks').data\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'dexterity', 'keras')]\n"
        "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_overview_without_checkpoint_scans_large_files(root: Path, monkeypatch) -> None:
    import monitor.progress as progress
    monkeypatch.setattr(progress, "FULL_READ_LIMIT", 1000)
    monkeypatch.setattr(progress, "TAIL_BYTES", 500)
    path = root / "experiments" / "exp-a" / "progress.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    best = max(r["rollout/return_mean"] for r in records)
    with open(path, "a") as f:  # recent cycles where no episode ended: no return in the tail
        for i in range(40, 48):
            f.write(json.dumps({"iteration": i, "frames": i * 10, "time/wall": float(i)}) + "\n")
    import shutil
    shutil.rmtree(root / "saved_models")
    row = [r for r in create_app(root).test_client().get("/api/experiments").get_json()
           if r["id"] == "exp-a"][0]
    assert row["best"] == pytest.approx(best) and row["iterations"] == 48
    assert row["last"] == pytest.approx(records[-1]["rollout/return_mean"])


def test_command_line_serves_the_storage(root: Path, tmp_path: Path) -> None:
    import socket
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, DEXTERITY_STORAGE=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--port", str(port)], cwd=tmp_path,
                            env=dict(env, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):  # up to a minute: starting Python is slow on a loaded machine
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as res:
                    body = res.read()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        else:
            body = b""
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert b'data-id="exp-a"' in body, out
    assert "Debugger is active" not in out and str(root) in out


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "monitor", "--storage", str(tmp_path), "--port", str(port)],
                              cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              timeout=120)
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("[monitor]")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert errors == [f"error: cannot serve on 127.0.0.1:{port}: Address already in use"], proc.stderr


@pytest.mark.parametrize("args, text", [
    (["--port", "-1"], "--port must be in 1..65535, got -1"),
    (["--port", "70000"], "--port must be in 1..65535, got 70000"),
    (["--port", "0"], "--port"),
    (["--storage", "{file}"], "is not a folder"),
])
def test_command_line_bad_port_or_storage_is_one_line(tmp_path: Path, args: list[str], text: str) -> None:
    (tmp_path / "file").write_text("keep")
    args = [a.format(file=tmp_path / "file") for a in args]
    proc = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], proc.stderr
    assert (tmp_path / "file").read_text() == "keep"


def test_compare_tolerates_odd_configs_and_repeated_cycles(client, root: Path) -> None:
    meta_path = root / "experiments" / "exp-c" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["config"] = [1, 2]
    meta_path.write_text(json.dumps(meta))
    write_progress(root / "experiments" / "exp-b" / "progress.jsonl", 10, seed=1, start=20)
    res = client.get("/compare?ids=exp-a,exp-b,exp-c")
    assert res.status_code == 200
    runs = {r["id"]: r for g in page_data(res.data)["groups"] for r in g["runs"]}
    assert runs["exp-b"]["iteration"] == list(range(30))  # resumed at 20: later records win


def test_progress_rewritten_by_a_resumed_run(client, root: Path) -> None:
    """A resume rewrites progress.jsonl atomically (new inode), then appends: clients reset."""
    path = root / "experiments" / "exp-b" / "progress.jsonl"
    first = client.get("/api/experiment/exp-b/progress").get_json()
    assert first["count"] == 30 and first["gen"] is not None
    client.get("/")  # the overview summary has read the old file too
    lines = path.read_text().splitlines(keepends=True)
    tmp = path.with_name(".progress.tmp")
    tmp.write_text("".join(lines[:20]))
    os.replace(tmp, path)
    write_progress(path, 15, seed=7, start=20)  # longer than before: size alone would not tell
    res = client.get(f"/api/experiment/exp-b/progress?since=30&gen={first['gen']}").get_json()
    assert res["reset"] and res["count"] == 35 and res["columns"]["iteration"] == list(range(35))
    row = [r for r in client.get("/api/experiments").get_json() if r["id"] == "exp-b"][0]
    assert row["iterations"] == 35 and not row["errors"]




def test_fork_is_linked_to_its_parent(client, root: Path) -> None:
    meta_path = root / "experiments" / "exp-b" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "forked_from": {"agent_id": "exp-a", "save": "20", "iteration": 20}}))
    html = client.get("/experiment/exp-b").get_data(as_text=True)
    assert '<a href="/experiment/exp-a">exp-a</a>' in html and "save 20" in html and "(cycle 20)" in html
    meta_path.write_text(json.dumps({**meta, "forked_from": "junk"}))
    assert client.get("/experiment/exp-b").status_code == 200
