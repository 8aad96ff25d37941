"""The TikTok channel against a local fake of the Content Posting API (tests/fakes/tiktok.py),
through the real dispatcher: the video it makes (checked with ffprobe), init → upload in chunks →
status, the publish id kept from the moment it is returned, each error class, the per-minute limit,
token renewal with rotating refresh tokens, a lost answer to the last chunk, captions at TikTok's
UTF-16 limit in Vietnamese and Tai Viet, markup in the title, and tokens that never show."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from channels.base import Outcome
from channels.tokens import Tokens
from scheduler.record.credentials import KEY_ENV, new_key
from scheduler.record.db import read_session
from scheduler.record.models import Attempt, Credential, ServiceState
from scheduler.record.models import DeliveryState as S
from tests import contract
from tests.cli import invoke as run  # in process: these test the command, not the entry point
from tests.conftest import START, sqlite_copy
from tests.fakes.tiktok import FakeTikTok
from tests.helpers import all_deliveries, approved, dispatch, make_app, set_channel
from tests.posts import post

CLIENT_KEY, CLIENT_SECRET, FIRST_REFRESH = "awcchcmuongla2025", "tiktok-client-secret-31", "rft.portalFirst"
TT = ["muong-la-tiktok"]
TAI_VIET = "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ"
KEY = new_key()
ENV = {KEY_ENV: KEY, "CCHC_TIKTOK_CLIENT_SECRET": CLIENT_SECRET}



def tiktok_for_contract() -> FakeTikTok:
    fake = FakeTikTok("contractclientkey", "contract-tiktok-secret-0001", contract.REFRESH)
    fake.access_tokens.add(contract.ACCESS)
    return fake


def a_made_video(channel, folder: Path, monkeypatch) -> None:  # noqa: ANN001
    """The contract is about the platform's answers: the video to upload is made beforehand."""
    clip = folder / "clip.mp4"
    clip.write_bytes(b"\x00" * 4096)
    monkeypatch.setattr(channel, "make_video", lambda post: Path(clip))


CONTRACT = contract.Contract(
    "tiktok", lambda url: {"client_key": "contractclientkey", "client_secret_env": "CONTRACT_TT_SECRET",
                           "api_url": url, "status_wait_seconds": 0, "timeout_seconds": 1,
                           "upload_timeout_seconds": 1},
    tiktok_for_contract, secrets={"CONTRACT_TT_SECRET": "contract-tiktok-secret-0001"}, ready=a_made_video)
test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows = contract.cases(CONTRACT)


@pytest.fixture
def db_url(sqlite_template, tmp_path) -> str:
    """Once, on SQLite: the database plays no part in making or uploading a video (test_zalo covers both)."""
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def tiktok():
    fake = FakeTikTok(CLIENT_KEY, CLIENT_SECRET, FIRST_REFRESH)
    yield fake
    fake.close()


def make(config_dir, settings, clock, tiktok, monkeypatch, **values):
    set_channel(config_dir, "muong-la-tiktok", mode="live", api_url=f'"{tiktok.url}"', status_wait_seconds="0",
                **values)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    app = make_app(settings, clock)
    app.channels["muong-la-tiktok"].tokens.save(Tokens("", FIRST_REFRESH))
    return app


@pytest.fixture
def tt(config_dir, settings, clock, tiktok, monkeypatch):
    app = make(config_dir, settings, clock, tiktok, monkeypatch)
    yield app
    app.engine.dispose()


@pytest.fixture
def one_video(tt, tmp_path_factory, monkeypatch):
    """Every post uploads one prepared video: for tests about the API, not about making videos."""
    folder = tmp_path_factory.mktemp("video")
    clip = folder / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=blue:s=360x640:r=30",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    "-c:a", "aac", str(clip)], check=True)
    monkeypatch.setattr(tt.channels["muong-la-tiktok"], "make_video", lambda post: clip)
    return clip


def probe(data: bytes, folder: Path) -> dict:
    path = folder / "uploaded.mp4"
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_an_item_goes_up_as_a_vertical_video_with_its_voice(tt, clock, tiktok, tmp_path):
    at = START + timedelta(hours=1)
    approved(tt, channels=["muong-la-website", *TT], at=at, title="Lịch tiếp công dân tháng 9/2025",
             body="Chủ tịch UBND xã tiếp công dân vào thứ Năm hằng tuần.")
    dispatch(tt, clock, at)
    [website, video] = sorted(all_deliveries(tt), key=lambda d: d.channel_id != "muong-la-website")
    assert video.state == S.DELIVERED
    with read_session(tt.engine) as session:
        sent = session.exec(select(Attempt).where(Attempt.delivery_id == video.id)).one()
    assert "riêng tư" in sent.message  # posted, but only its owner sees it
    [published] = tiktok.posts()
    assert video.remote_id in tiktok.publishes and published["privacy"] == "SELF_ONLY"  # not audited yet
    assert published["title"].startswith("Lịch tiếp công dân tháng 9/2025") and f"[{video.ref_code}]" in \
        published["title"] and website.remote_url in published["title"]
    info = probe(published["data"], tmp_path)
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert (streams["video"]["codec_name"], streams["video"]["width"], streams["video"]["height"]) == \
        ("h264", 1080, 1920)
    assert streams["video"]["avg_frame_rate"] == "30/1" and streams["audio"]["codec_name"] == "aac"
    assert 2.0 < float(info["format"]["duration"]) < 30.0  # as long as the voice reading the item
    assert info["format"]["format_name"].startswith("mov,mp4")
    levels = subprocess.run(["ffmpeg", "-nostdin", "-i", str(tmp_path / "uploaded.mp4"), "-af", "volumedetect",
                             "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    peak = float(levels.split("max_volume:")[1].split("dB")[0])
    assert -6.0 < peak <= -1.0  # levelled: loud enough on a phone, never clipping
    card = tt.settings.data_dir / "cache" / "tiktok" / f"{video.ref_code.replace('.', '-').lower()}.png"
    assert any(p.suffix == ".png" for p in card.parent.iterdir())


def test_an_audited_app_posts_publicly_and_gets_the_post_address(config_dir, settings, clock, tiktok, monkeypatch,
                                                                 tmp_path):
    tiktok.audited = True
    app = make(config_dir, settings, clock, tiktok, monkeypatch, audited="true")
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=s=360x640:r=30",
                    "-t", "1", "-pix_fmt", "yuv420p", str(clip)], check=True)
    monkeypatch.setattr(app.channels["muong-la-tiktok"], "make_video", lambda post: clip)
    at = START + timedelta(hours=1)
    approved(app, channels=TT, at=at)
    dispatch(app, clock, at)
    [d] = all_deliveries(app)
    assert d.state == S.DELIVERED and d.remote_url == "https://www.tiktok.com/@ubndxamuongla/video/7300000000000000001"
    assert tiktok.posts()[0]["privacy"] == "PUBLIC_TO_EVERYONE"
    app.engine.dispose()


def test_a_large_video_goes_up_in_chunks_the_way_init_announced(tt, clock, tiktok, tmp_path, monkeypatch):
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(11 * 1024 * 1024 + 123))
    channel = tt.channels["muong-la-tiktok"]
    monkeypatch.setattr(channel, "make_video", lambda post: big)
    set_chunks = channel._init_body(post(), big.stat().st_size)["source_info"]
    assert set_chunks["total_chunk_count"] == 1 and set_chunks["chunk_size"] == 10 * 1024 * 1024
    channel.settings.chunk_mb = 5
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at)
    dispatch(tt, clock, at)
    [d] = all_deliveries(tt)
    assert d.state == S.DELIVERED and tiktok.posts()[0]["data"] == big.read_bytes()
    puts = [r for r in tiktok.requests if r["method"] == "PUT"]
    assert [r["headers"]["Content-Range"] for r in puts] == [
        f"bytes 0-{5 * 2**20 - 1}/{big.stat().st_size}",
        f"bytes {5 * 2**20}-{big.stat().st_size - 1}/{big.stat().st_size}"]  # the last chunk takes the rest


@pytest.mark.parametrize(("step", "outcome", "state", "words"), [
    (("error", 401, "scope_not_authorized", "The user did not authorize the scope"), Outcome.NEEDS_REAUTH,
     S.RETRY_WAIT, "video.publish"),  # held: it waits with the channel for a person to fix the account
    (("error", 403, "spam_risk_user_banned_from_posting", "banned"), Outcome.NEEDS_REAUTH, S.RETRY_WAIT, "cấm"),
    (("error", 403, "spam_risk_too_many_posts", "daily cap"), Outcome.RATE_LIMITED, S.RETRY_WAIT, "trong ngày"),
    (("error", 403, "reached_active_user_cap", "cap"), Outcome.RATE_LIMITED, S.RETRY_WAIT, "trong ngày"),
    (("error", 429, "rate_limit_exceeded", "API rate limit exceeded"), Outcome.RATE_LIMITED, S.RETRY_WAIT,
     "một phút"),
    (("error", 400, "invalid_param", "title is invalid"), Outcome.PERMANENT, S.FAILED, "bị từ chối"),
    (("error", 500, "internal_error", "Something went wrong"), Outcome.RETRYABLE, S.RETRY_WAIT, "internal_error"),
])
def test_each_init_error_gets_its_outcome(tt, clock, tiktok, one_video, step, outcome, state, words):
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at)
    tiktok.script = [step]
    dispatch(tt, clock, at)
    [d] = all_deliveries(tt)
    assert d.state == state and words in d.last_error and tiktok.publishes == {}
    with read_session(tt.engine) as session:
        attempt = session.exec(select(Attempt)).one()
        held = session.get(ServiceState, "reauth:muong-la-tiktok")
    assert attempt.outcome == outcome and (held is not None) == (outcome == Outcome.NEEDS_REAUTH)
    if outcome == Outcome.RATE_LIMITED:
        wait = 60 if step[2] == "rate_limit_exceeded" else 3600
        assert d.next_attempt_at == at + timedelta(seconds=wait)


def test_the_seventh_init_in_a_minute_waits_for_the_limit(tt, clock, tiktok, one_video):
    at = START + timedelta(hours=1)
    for n in range(7):
        approved(tt, channels=TT, at=at, title=f"Tin số {n + 1}")
    dispatch(tt, clock, at)
    states = [d.state for d in all_deliveries(tt)]
    assert states.count(S.DELIVERED) == 6 and states.count(S.RETRY_WAIT) == 1 and len(tiktok.posts()) == 6


def test_an_app_that_is_not_audited_is_refused_public_posts_and_held(config_dir, settings, clock, tiktok,
                                                                     monkeypatch, tmp_path):
    app = make(config_dir, settings, clock, tiktok, monkeypatch, audited="true")  # but TikTok has not audited it
    monkeypatch.setattr(app.channels["muong-la-tiktok"], "make_video", lambda post: tmp_path / "none.mp4")
    (tmp_path / "none.mp4").write_bytes(b"x" * 100)
    at = START + timedelta(hours=1)
    approved(app, channels=TT, at=at)
    dispatch(app, clock, at)
    [d] = all_deliveries(app)
    assert d.state == S.RETRY_WAIT and "chưa được TikTok duyệt" in d.last_error and tiktok.publishes == {}
    from scheduler.outbox.holds import held_channels

    with read_session(app.engine) as session:
        assert held_channels(session, clock.now()) == ["muong-la-tiktok"]
    app.engine.dispose()


def test_tokens_are_renewed_when_due_and_when_tiktok_refuses_them(tt, clock, tiktok, one_video):
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at, title="Tin một")
    dispatch(tt, clock, at)
    assert tiktok.issued == 1 and FIRST_REFRESH not in tiktok.refresh_tokens
    tiktok.access_tokens = set()  # revoked early: access_token_invalid, renew, once more
    approved(tt, channels=TT, at=at + timedelta(minutes=30), title="Tin hai")
    dispatch(tt, clock, at + timedelta(minutes=30))
    approved(tt, channels=TT, at=at + timedelta(hours=3), title="Tin ba")
    dispatch(tt, clock, at + timedelta(hours=3))  # the 2-hour token is due: renewed first
    assert [d.state for d in all_deliveries(tt)] == [S.DELIVERED] * 3 and tiktok.issued == 3
    assert len(tiktok.posts()) == 3
    with read_session(tt.engine) as session:
        sealed = session.get(Credential, "muong-la-tiktok").sealed
    assert "act." not in sealed and "rft." not in sealed
    tiktok.refresh_tokens = set()
    tiktok.access_tokens = set()
    approved(tt, channels=TT, at=at + timedelta(hours=4), title="Tin bốn")
    dispatch(tt, clock, at + timedelta(hours=4))
    last = all_deliveries(tt)[-1]
    assert last.state == S.RETRY_WAIT and "cchc channel token muong-la-tiktok" in last.last_error


def test_a_lost_answer_to_the_last_chunk_is_settled_by_status_not_a_second_post(tt, clock, tiktok, one_video):
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at)
    tiktok.upload_script = [("store-then-drop",)]
    dispatch(tt, clock, at)
    [d] = all_deliveries(tt)
    assert d.state == S.NEEDS_RECONCILE and d.remote_id in tiktok.publishes
    dispatch(tt, clock, d.next_attempt_at)
    [d] = all_deliveries(tt)
    assert d.state == S.DELIVERED and len(tiktok.publishes) == 1 and len(tiktok.posts()) == 1


def test_an_upload_tiktok_did_not_keep_is_found_unfinished_and_sent_again(tt, clock, tiktok, one_video):
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at)
    tiktok.upload_script = [("http", 500)]
    dispatch(tt, clock, at)
    [d] = all_deliveries(tt)
    assert d.state == S.NEEDS_RECONCILE and tiktok.posts() == []  # the only chunk is the last: unknown
    dispatch(tt, clock, d.next_attempt_at)  # status: 0 bytes of the file arrived → nothing to publish
    [d] = all_deliveries(tt)
    assert d.state == S.RETRY_WAIT and tiktok.posts() == []  # sent again after a backoff
    dispatch(tt, clock, d.next_attempt_at)
    [d] = all_deliveries(tt)
    assert d.state == S.DELIVERED and len(tiktok.publishes) == 2 and len(tiktok.posts()) == 1


def test_the_publish_id_is_kept_the_moment_it_is_returned(tt, clock, tiktok, one_video, monkeypatch):
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at)
    monkeypatch.setattr(tt.channels["muong-la-tiktok"], "_upload",
                        lambda *args: (_ for _ in ()).throw(SystemExit(9)))
    clock.moment = at
    with pytest.raises(SystemExit):
        tt.dispatcher().run_once()  # the process dies during the upload
    [d] = all_deliveries(tt)
    assert d.state == S.SENDING and d.remote_id == "v_pub_file~v2-1.7000"


def test_processing_is_followed_up_and_a_failure_is_reported_with_its_reason(tt, clock, tiktok, one_video):
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at, title="Tin một")
    tiktok.processing_polls = 5
    dispatch(tt, clock, at)
    [d] = all_deliveries(tt)
    assert d.state == S.NEEDS_RECONCILE and d.remote_id in tiktok.publishes
    tiktok.processing_polls = 0
    dispatch(tt, clock, d.next_attempt_at)
    assert all_deliveries(tt)[0].state == S.DELIVERED
    tiktok.fail_reason = "spam_risk_text"
    approved(tt, channels=TT, at=at + timedelta(hours=1), title="Tin hai")
    dispatch(tt, clock, at + timedelta(hours=1))
    last = all_deliveries(tt)[-1]
    assert last.state == S.FAILED and "spam" in last.last_error and "(spam_risk_text)" in last.last_error


@pytest.mark.parametrize("script", ["vi", "blt"])
def test_the_caption_fits_tiktoks_utf16_limit_with_the_reference_kept(tt, script):
    channel = tt.channels["muong-la-tiktok"]
    word = "Thủ tục hành chính" if script == "vi" else TAI_VIET
    short = channel.caption(post(title="Tiêu đề 📢", body=(word + " ") * 3))
    assert short.count(word) == 3
    long = channel.caption(post(title="Tiêu đề 📢📢", body=(word + " ") * 400, ref="ML-2025-0002.1"))
    assert len(long.encode("utf-16-le")) // 2 <= 2200 and long.endswith("[ML-2025-0002.1]") and "…" in long
    assert len(long.encode("utf-16-le")) // 2 > 2150  # cut at the limit, not far below it


def test_markup_in_the_title_is_dropped_from_caption_and_card(tt, clock, tiktok):
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at, title='Thông báo <script>alert("x")</script><b>mới</b>', body="Nội dung.")
    dispatch(tt, clock, at)
    [published] = tiktok.posts()
    assert published["title"].startswith('Thông báo alert("x")mới') and "<" not in published["title"]


def test_tokens_appear_in_no_log_or_stored_text_even_at_debug(tt, clock, tiktok, one_video, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    at = START + timedelta(hours=1)
    approved(tt, channels=TT, at=at)
    dispatch(tt, clock, at)
    tiktok.access_tokens = set()
    tiktok.refresh_tokens = set()
    approved(tt, channels=TT, at=at + timedelta(hours=1), title="Tin hai")
    dispatch(tt, clock, at + timedelta(hours=1))
    secrets = ["act.tk1Qw9", "rft.tk1Zp4", FIRST_REFRESH, CLIENT_SECRET, KEY]
    assert all(secret not in r.getMessage() for r in caplog.records for secret in secrets)
    with read_session(tt.engine) as session:
        stored = [a.message for a in session.exec(select(Attempt))] + [d.last_error for d in all_deliveries(tt)]
        stored += [s.value for s in session.exec(select(ServiceState))]
        stored += [c.sealed for c in session.exec(select(Credential))]
    assert all(secret not in (text or "") for text in stored for secret in secrets)


def test_channel_check_says_the_app_is_not_audited_and_what_the_account_allows(tt, settings, tiktok,
                                                                               config_dir):
    checked = run(settings, "channel", "check", "muong-la-tiktok", extra_env=ENV)
    assert checked.returncode == 0, checked.stdout
    assert "đều ổn" in checked.stdout and "chưa được duyệt" in checked.stdout and "SELF_ONLY" in checked.stdout
    tiktok.options = ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]  # a private account
    set_channel(config_dir, "muong-la-tiktok", audited="true")
    refused = run(settings, "channel", "check", "muong-la-tiktok", extra_env=ENV)
    assert refused.returncode == 1 and "PUBLIC_TO_EVERYONE" in refused.stdout and "FOLLOWER_OF_CREATOR" in \
        refused.stdout


def test_preview_shows_the_init_request_without_a_token(settings, config_dir):
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    assert run(settings, "init").returncode == 0
    made = run(settings, "queue", "--user", "lan", "--title", "Tin mới", "--body", "Nội dung tin.",
               "--channel", "muong-la-tiktok", "--at", "2030-01-01 08:00")
    shown = run(settings, "preview", made.stdout.strip(), "--channel", "muong-la-tiktok")
    assert shown.returncode == 0, shown.stderr
    request = json.loads(shown.stdout)
    assert request["url"].endswith("/v2/post/publish/video/init/")
    assert request["body"]["post_info"]["privacy_level"] == "SELF_ONLY"
    assert request["body"]["post_info"]["title"].startswith("Tin mới")

