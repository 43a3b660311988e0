"""The monitor answers only requests addressed to itself (Host check against DNS rebinding) and keeps
refusing cross-site form posts."""
from __future__ import annotations

import pytest

from monitor_fixtures import root  # noqa: F401 (fixture)
from monitor import create_app
from monitor.__main__ import allowed_hosts, parse_args


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000", "LOCALHOST:80"])
def test_local_names_are_answered(root, host):
    client = create_app(root).test_client()
    assert client.get("/", headers={"Host": host}).status_code == 200
    assert client.get("/api/experiments", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "localhost.evil.example", "127.0.0.2:5000",
                                  "", "[bad"])
def test_other_names_are_refused(root, host):
    """A rebound name reaches the monitor's socket but names another site: no data for it."""
    client = create_app(root).test_client()
    for url in ("/", "/api/experiments", "/experiment/exp-a", "/api/experiment/exp-a/progress"):
        res = client.get(url, headers={"Host": host})
        assert res.status_code == 403, (url, host)
        assert b"exp-a" not in res.data


def test_the_host_served_and_allowed_names_are_answered(root):
    args = parse_args(["--storage", str(root), "--host", "10.1.2.3", "--allow-host", "Proxy.Example.org",
                       "--allow-host", "tunnel"])
    assert allowed_hosts(args) == ["10.1.2.3", "Proxy.Example.org", "tunnel"]
    client = create_app(root, allowed_hosts(args)).test_client()
    for host in ("10.1.2.3:5000", "proxy.example.org", "tunnel:8080", "localhost:5000"):
        assert client.get("/api/experiments", headers={"Host": host}).status_code == 200, host
    assert client.get("/api/experiments", headers={"Host": "10.1.2.4:5000"}).status_code == 403


def test_listening_everywhere_still_answers_only_named_hosts(root):
    args = parse_args(["--storage", str(root), "--host", "0.0.0.0"])
    client = create_app(root, allowed_hosts(args)).test_client()
    assert client.get("/", headers={"Host": "0.0.0.0:5000"}).status_code == 403
    assert client.get("/", headers={"Host": "myhost.cluster:5000"}).status_code == 403
    assert client.get("/", headers={"Host": "localhost:5000"}).status_code == 200


def test_cross_site_posts_are_still_refused_on_an_allowed_host(root):
    client = create_app(root, ["tunnel"]).test_client()
    headers = {"Host": "tunnel:5000", "Origin": "http://evil.example"}
    assert client.post("/experiment/exp-a/bookmark", headers=headers).status_code == 403
    res = client.post("/experiment/exp-a/delete", data={"confirm": "exp-a"},
                      headers={"Host": "tunnel:5000", "Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403
    assert (root / "experiments" / "exp-a").is_dir()
    res = client.post("/experiment/exp-a/bookmark", headers={"Host": "tunnel:5000", "Origin": "http://tunnel:5000",
                                                             "X-Requested-With": "fetch"})
    assert res.status_code == 200
