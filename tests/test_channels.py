"""What every registered channel keeps, and the HTTP session the channels that talk HTTP share. (Each kind has
its own test module, ``tests/test_<kind>.py``, with its contract: ``tests/contract.py``.)"""

import pytest

from channels import REGISTRY
from channels.base import Channel


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_channel_kind_keeps_the_contract(kind):
    cls = REGISTRY[kind]
    assert issubclass(cls, Channel) and cls.kind == kind and cls.__doc__
    assert cls.settings_problems({"no_such_key": 1}), "unknown settings keys are refused"


def test_a_session_honours_the_environment_s_proxy_settings_and_reads_them_once_a_host(monkeypatch):
    import requests

    from channels import http

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.so-tt.local:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    reads = []
    real = requests.utils.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda url, **more: reads.append(url) or real(url, **more))
    ours, plain = http.new_session(), requests.Session()
    for url in ("http://graph.example.vn/a", "http://127.0.0.1:9/x", "http://graph.example.vn/b"):
        assert ours.merge_environment_settings(url, {}, False, None, None) == \
            plain.merge_environment_settings(url, {}, False, None, None)
    assert ours.merge_environment_settings("http://graph.example.vn/c", {}, False, None, None)["proxies"] == {
        "http": "http://proxy.so-tt.local:3128", "no": "127.0.0.1,localhost"}
    assert ours.merge_environment_settings("http://127.0.0.1:9/y", {}, False, None, None)["proxies"] == {}
    # the first URL of a host was looked up by both sessions; later ones of that host only by the plain one
    assert reads.count("http://graph.example.vn/a") == 2 and "http://graph.example.vn/c" not in reads
