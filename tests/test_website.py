"""The built-in website channel: escaped pages, an index and an Atom feed in a folder, written whole."""

import json
import xml.etree.ElementTree as ET

from channels import build_channel
from channels.base import Found, Outcome
from tests.posts import post

SCRIPT = '<script>alert("x")</script>'
CONTRACT = "writes pages into a folder: no platform answers it (tests/contract.py is for kinds that talk HTTP)"


def website(tmp_path):
    return build_channel("site", "website", {"site_title": "Xã Mường La", "base_url": "http://x/"},
                         data_dir=tmp_path)


def test_publishes_escaped_pages_index_and_a_valid_feed(tmp_path):
    channel = website(tmp_path)
    receipt = channel.send(post(title=f"Tiêu đề {SCRIPT}", body=f"Nội dung <b>đậm</b> {SCRIPT}"))
    assert receipt.outcome == Outcome.SENT and receipt.url == "http://x/posts/ml-2025-0001-1.html"
    page = (tmp_path / "site/site/posts/ml-2025-0001-1.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;đậm&lt;/b&gt;" in page and "Mã tin: <span class=\"ref\">ML-2025-0001.1</span>" in page
    index = (tmp_path / "site/site/index.html").read_text()
    assert "posts/ml-2025-0001-1.html" in index and "<script>alert" not in index
    feed = ET.fromstring((tmp_path / "site/site/feed.atom").read_bytes())
    entry = feed.find("{http://www.w3.org/2005/Atom}entry")
    assert entry.find("{http://www.w3.org/2005/Atom}title").text == f"Tiêu đề {SCRIPT}"


def test_send_is_idempotent_and_reconcile_answers_exactly(tmp_path):
    channel = website(tmp_path)
    assert channel.reconcile(post(), None).found == Found.ABSENT
    channel.send(post())
    channel.send(post())
    channel.send(post(ref="ML-2025-0001.2", lang="blt", title="ꪶꪭꪙ ꪬꪮꪙ", body="ꪬꪮꪙ ꪀꪱꪙ ꪻꪊ"))
    manifest = json.loads((tmp_path / "site/site/posts.json").read_text())
    assert [e["ref"] for e in manifest] == ["ML-2025-0001.2", "ML-2025-0001.1"]
    assert channel.reconcile(post(), None).found == Found.PRESENT
    assert 'lang="blt"' in (tmp_path / "site/site/posts/ml-2025-0001-2.html").read_text()


def test_reports_a_folder_it_cannot_write_as_retryable(tmp_path):
    blocker = tmp_path / "site"
    blocker.write_text("not a folder")
    assert website(tmp_path).send(post()).outcome == Outcome.RETRYABLE
