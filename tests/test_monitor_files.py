"""Monitor routes that touch files: gifs and analysis figures served, bookmark, delete,
cross-site refusal and path traversal."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from monitor_fixtures import client, root  # noqa: F401 (fixtures)


def test_gif_route(client, root: Path) -> None:
    name = sorted(os.listdir(root / "experiments" / "exp-a" / "gifs"))[0]
    res = client.get(f"/experiment/exp-a/gifs/{name}")
    assert res.status_code == 200 and res.mimetype == "image/gif" and res.data[:3] == b"GIF"
    for bad in ("../meta.json", "..%2fmeta.json", "%2e%2e%2fmeta.json", "nope.gif", "meta.json"):
        assert client.get(f"/experiment/exp-a/gifs/{bad}").status_code == 404, bad


TRAVERSALS = ["..", "%2e%2e", "%2E%2E", ".", "..%2f..%2fetc", "%2fetc%2fpasswd", "/etc/passwd",
              "..%5c..", "exp-a%00", "exp a", "outside", "nope"]


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_traversal_and_unknown_ids_are_404(client, root: Path, bad: str) -> None:
    secret = root.parent / "outside"
    secret.mkdir(exist_ok=True)
    (secret / "meta.json").write_text('{"env_id": "SECRET"}')
    link = root / "experiments" / "outside"
    if not link.exists():
        link.symlink_to(secret)
    for url in (f"/experiment/{bad}", f"/api/experiment/{bad}/progress",
                f"/experiment/{bad}/gifs/0.gif"):
        res = client.get(url)
        assert res.status_code == 404, url
        assert b"SECRET" not in res.data
    for url in (f"/experiment/{bad}/bookmark", f"/experiment/{bad}/delete"):
        assert client.post(url, data={"confirm": bad}).status_code in (404, 405), url
    assert (secret / "meta.json").exists() and not (secret / "bookmark").exists()
    assert b"SECRET" not in client.get("/").data


def test_bookmark_toggle(client, root: Path) -> None:
    marker = root / "experiments" / "exp-a" / "bookmark"
    res = client.post("/experiment/exp-a/bookmark", headers={"X-Requested-With": "fetch"})
    assert res.get_json() == {"id": "exp-a", "bookmarked": True} and marker.exists()
    assert 'data-bookmarked="1"' in client.get("/").get_data(as_text=True)
    res = client.post("/experiment/exp-a/bookmark")  # plain form post: back to the page
    assert res.status_code == 302 and not marker.exists()
    assert client.get("/experiment/exp-a/bookmark").status_code == 405


def test_cross_site_posts_are_refused(client, root: Path) -> None:
    res = client.post("/experiment/exp-a/delete", data={"confirm": "exp-a"},
                      headers={"Origin": "http://evil.example"})
    assert res.status_code == 403 and (root / "experiments" / "exp-a").exists()
    res = client.post("/experiment/exp-a/bookmark", headers={"Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403


def test_delete_needs_confirmation_and_removes_models(client, root: Path) -> None:
    assert (root / "saved_models" / "exp-a" / "best" / "agent.json").exists()
    assert client.post("/experiment/exp-a/delete").status_code == 400
    assert client.get("/experiment/exp-a/delete").status_code == 405
    res = client.post("/experiment/exp-a/delete", data={"confirm": "exp-a"},
                      headers={"Origin": "http://localhost"})
    assert res.status_code == 302
    assert not (root / "experiments" / "exp-a").exists()
    assert not (root / "saved_models" / "exp-a").exists()
    assert (root / "experiments" / "exp-b").exists()
    assert client.get("/experiment/exp-a").status_code == 404
    assert b'data-id="exp-a"' not in client.get("/").data


def test_delete_does_not_follow_symlinked_models(client, root: Path) -> None:
    elsewhere = root.parent / "precious"
    (elsewhere / "best").mkdir(parents=True)
    models = root / "saved_models" / "exp-b"
    import shutil
    shutil.rmtree(models)
    models.symlink_to(elsewhere)
    client.post("/experiment/exp-b/delete", data={"confirm": "exp-b"})
    assert not models.is_symlink() and (elsewhere / "best").is_dir()


def tiny_png() -> bytes:
    """A valid 1x1 grey PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


def test_analysis_figures_listed_served_and_guarded(client, root: Path) -> None:
    folder = root / "experiments" / "exp-a" / "analysis"
    folder.mkdir()
    for name in ("weights", "extra", "pca", "decode", "rsa"):
        (folder / f"{name}.png").write_bytes(tiny_png())
    (folder / "pca.json").write_text(json.dumps({f"policy_dense{i}": {"dimension": 1.5} for i in range(9)}))
    (folder / "rsa.json").write_text('{"names": ["input"], "cka": [[1.0]], "measure": "linear CKA"}')
    (folder / "decode.json").write_text('{"rows": ["inp')  # being written: no caption
    (folder / "weights.json").write_bytes(b"\x00\xff garbage")
    (folder / "notes.txt").write_text("SECRET")
    (root / "experiments" / "exp-a" / "meta.png").write_bytes(tiny_png())
    html = client.get("/experiment/exp-a").get_data(as_text=True)
    assert ">Analysis</h2>" in html and 'loading="lazy"' in html
    srcs = [f"/experiment/exp-a/analysis/{n}.png" for n in ("pca", "decode", "rsa", "weights", "extra")]
    assert [html.index(s) for s in srcs] == sorted(html.index(s) for s in srcs)
    assert "representational similarity (linear CKA): names, cka, measure" in html
    caption = html[html.index("PCA of each layer"):].split("<", 1)[0]
    assert caption.startswith("PCA of each layer&#39;s activity: policy_dense0, ") and len(caption) < 100
    assert "linear decoding" not in html and "weight statistics" not in html
    res = client.get("/experiment/exp-a/analysis/pca.png")
    assert res.status_code == 200 and res.mimetype == "image/png" and res.data == tiny_png()
    for bad in ("..%2fmeta.png", "%2e%2e%2fmeta.png", "..", "%2fetc%2fpasswd", "/etc/passwd",
                "pca.json", "notes.txt", "nope.png", "meta.png"):
        res = client.get(f"/experiment/exp-a/analysis/{bad}")
        assert res.status_code == 404 and b"SECRET" not in res.data, bad
    assert client.get("/experiment/nope/analysis/pca.png").status_code == 404


def test_no_analysis_section_without_figures(client, root: Path) -> None:
    assert "Analysis</h2>" not in client.get("/experiment/exp-b").get_data(as_text=True)
    (root / "experiments" / "exp-b" / "analysis").mkdir()
    (root / "experiments" / "exp-b" / "analysis" / "pca.json").write_text("{}")
    assert "Analysis</h2>" not in client.get("/experiment/exp-b").get_data(as_text=True)
