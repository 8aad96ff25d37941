"""No secret in clear anywhere: every online channel configured with distinctive secrets, against fakes
that echo back everything they were sent (also inside errors), dispatched with DEBUG logging; then every
place a secret could end up is searched for every secret and every form derived from it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from channels.secrets import install_log_redaction
from channels.tokens import Tokens
from scheduler.record.credentials import KEY_ENV, new_key
from tests.cli import invoke
from tests.conftest import START
from tests.fakes.facebook import FakeGraph
from tests.fakes.radio import FakeRadioPlatform
from tests.fakes.tiktok import FakeTikTok
from tests.fakes.webhook import FakeReceiver
from tests.fakes.wordpress import FakeWordPress
from tests.fakes.zalo import FakeZalo
from tests.helpers import approved, make_app, set_channel
from tests.web import add_staff, logged_in

PAGE = "100000000000001"
SECRETS = {
    "CCHC_FB_MUONG_LA_TOKEN": "EAAGleakFacebookPageToken4471",
    "CCHC_FB_APP_SECRET": "leak-facebook-app-secret-3312",
    "CCHC_WP_MUONG_LA_PASSWORD": "leak Wpap Pass 7777 8888",  # as WordPress shows it: groups of four
    "CCHC_ZALO_SECRET_KEY": "leak-zalo-app-secret-5521",
    "CCHC_TIKTOK_CLIENT_SECRET": "leak-tiktok-client-secret-7781",
    "CCHC_WEBHOOK_TOKEN": "leak-webhook-bearer-2231",
    "CCHC_RADIO_TOKEN": "leak-radio-platform-9931",
    KEY_ENV: new_key(),
}
ZALO_REFRESH, TIKTOK_REFRESH = "leak-zalo-first-refresh-0001", "leak-tiktok-first-refresh-0001"
LOUD = "muong-la-loa"
ONLINE = ["muong-la-website", "muong-la-webhook", "muong-la-facebook", "muong-la-wordpress", "muong-la-zalo",
          "muong-la-tiktok"]


@pytest.fixture
def fakes():
    made = {"graph": FakeGraph(PAGE, SECRETS["CCHC_FB_MUONG_LA_TOKEN"], SECRETS["CCHC_FB_APP_SECRET"]),
            "wordpress": FakeWordPress("bientap", SECRETS["CCHC_WP_MUONG_LA_PASSWORD"]),
            "zalo": FakeZalo("1234567890123456789", SECRETS["CCHC_ZALO_SECRET_KEY"], ZALO_REFRESH),
            "tiktok": FakeTikTok("awcchcmuongla2025", SECRETS["CCHC_TIKTOK_CLIENT_SECRET"], TIKTOK_REFRESH),
            "webhook": FakeReceiver(), "radio": FakeRadioPlatform(SECRETS["CCHC_RADIO_TOKEN"])}
    made["webhook"].token = SECRETS["CCHC_WEBHOOK_TOKEN"]
    for fake in made.values():
        fake.server.echo = True  # a careless platform: it quotes what it got in every answer
    yield made
    for fake in made.values():
        fake.close()


def every_form(values: list[str]) -> set[str]:
    """Each secret as is, URL-encoded, and inside a Basic header."""
    forms = set()
    for value in values:
        forms |= {value, quote(value, safe="")}
    return forms


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_secret_appears_in_logs_database_files_pages_or_commands(config_dir, settings, clock, fakes, monkeypatch,
                                                                     tmp_path):
    graph, wordpress, zalo, tiktok = fakes["graph"], fakes["wordpress"], fakes["zalo"], fakes["tiktok"]
    set_channel(config_dir, "muong-la-facebook", mode="live", graph_url=f'"{graph.url}"')
    set_channel(config_dir, "muong-la-wordpress", mode="live", send_ahead_minutes=0, url=f'"{wordpress.url}"',
                audio="false")
    set_channel(config_dir, "muong-la-zalo", mode="live", api_url=f'"{zalo.url}"', oauth_url=f'"{zalo.url}"',
                verify_wait_seconds="0")
    set_channel(config_dir, "muong-la-tiktok", mode="live", api_url=f'"{tiktok.url}"', status_wait_seconds="0")
    set_channel(config_dir, "muong-la-webhook", mode="live", url=f'"{fakes["webhook"].url}"',
                reconcile_url=f'"{fakes["webhook"].url}"')
    set_channel(config_dir, LOUD, playout='"http"', station_id='"Đài xã."', outro='"Hết."', **{
        "http.table": f'[channels.{LOUD}.settings.http]\nurl = "{fakes["radio"].url}"\ntoken_env = "CCHC_RADIO_TOKEN"\n'
                      'auth_header = "X-Api-Key"\nauth_scheme = "Token"\nfile_field = "audio"\nid_field = "data.id"\n'
                      'fields = { external_id = "client_ref" }'})
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    log = io.StringIO()
    logging.basicConfig(level=logging.DEBUG, stream=log, force=True, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    app = add_staff(make_app(settings, clock))
    try:
        monkeypatch.setattr(app.channels["muong-la-tiktok"], "make_video", lambda post: tiny_video(tmp_path))
        app.channels["muong-la-zalo"].tokens.save(Tokens("", ZALO_REFRESH))
        app.channels["muong-la-tiktok"].tokens.save(Tokens("", TIKTOK_REFRESH))
        at = START + timedelta(hours=2)
        approved(app, channels=ONLINE, at=at, title="Lịch tiếp công dân", body="Chủ tịch xã tiếp công dân.")
        clock.moment = at
        app.dispatcher().run_once()  # everything goes out, every answer quoting the secrets sent
        approved(app, channels=[LOUD], at=START + timedelta(hours=10), title="Thông báo trên loa")
        clock.moment = START + timedelta(hours=9, minutes=50)
        app.broadcaster().run_due()  # the programme is uploaded to the radio platform
        for fake in fakes.values():
            fake.server.echo = "fail"  # now every answer is a 500 that quotes the request
        second = START + timedelta(hours=11)
        approved(app, channels=ONLINE, at=second, title="Tin thứ hai", body="Nội dung thứ hai.")
        clock.moment = second
        app.dispatcher().run_once()
        for name in ("muong-la-zalo", "muong-la-tiktok"):  # a renewal the platform refuses, quoting the token
            channel = app.channels[name]
            channel.keep_fresh()
            channel.tokens.save(Tokens("", f"leak-{name}-typed-refresh-0002"))
            channel.keep_fresh()
        clock.advance(timedelta(minutes=5))
        app.dispatcher().run_once()

        outputs = {}
        for name in ["muong-la-facebook", "muong-la-wordpress", "muong-la-zalo", "muong-la-tiktok", "muong-la-webhook",
                     LOUD]:
            outputs[f"channel check {name}"] = combined(invoke(settings, "channel", "check", name, extra_env=SECRETS))
        outputs["logs"] = combined(invoke(settings, "logs", "--format", "csv", extra_env=SECRETS))
        outputs["logs json"] = combined(invoke(settings, "logs", "--json", extra_env=SECRETS))
        outputs["show"] = combined(invoke(settings, "show", "1", extra_env=SECRETS)) + combined(
            invoke(settings, "show", "3", "--json", extra_env=SECRETS))
        outputs["config check"] = combined(invoke(settings, "config", "check", extra_env=SECRETS))
        browser, _ = logged_in(app, "hung")
        for path in ("/", "/deliveries", "/deliveries.csv", "/channels", "/announcements", "/announcements/1",
                     "/announcements/3", "/calendar", "/api/deliveries", "/api/announcements", "/api/announcements/3",
                     "/api/me"):
            answer = browser.get(path)
            assert answer.status_code == 200, path
            outputs[f"web {path}"] = answer.text
    finally:
        app.engine.dispose()
        logging.basicConfig(level=logging.WARNING, force=True)

    password = SECRETS["CCHC_WP_MUONG_LA_PASSWORD"]
    derived = [password.replace(" ", ""), base64.b64encode(f"bientap:{password.replace(' ', '')}".encode()).decode(),
               hmac.new(SECRETS["CCHC_FB_APP_SECRET"].encode(), SECRETS["CCHC_FB_MUONG_LA_TOKEN"].encode(),
                        hashlib.sha256).hexdigest()]
    obtained = sorted(zalo.access_tokens | zalo.refresh_tokens | tiktok.access_tokens | tiktok.refresh_tokens
                      | {ZALO_REFRESH, TIKTOK_REFRESH, "leak-muong-la-zalo-typed-refresh-0002",
                         "leak-muong-la-tiktok-typed-refresh-0002"})
    assert len(zalo.access_tokens) >= 1 and len(tiktok.access_tokens) >= 1  # tokens were obtained at run time
    secrets = every_form([*SECRETS.values(), *derived, *obtained])
    places = {"log": log.getvalue(), **outputs}
    data = settings.data_dir
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        places[f"file {path.relative_to(data)}"] = path.read_bytes().decode("latin-1")
    database = Path(settings.url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        if database.with_name(database.name + suffix).exists():
            places[f"database {suffix or 'file'}"] = database.with_name(database.name + suffix).read_bytes() \
                .decode("latin-1")
    assert "REDACTED" in places["log"] and "echo" in places["log"]  # the echoes did come back, redacted
    assert places["web /deliveries"].count("REDACTED") >= 1
    leaks = [(secret, where) for secret in sorted(secrets) for where, text in places.items()
             if secret in text or secret.encode().decode("latin-1") in text]
    print(f"secret search: {len(places)} places x {len(secrets)} secret forms, {len(leaks)} leaks")
    assert leaks == []


def combined(result) -> str:  # noqa: ANN001
    return result.stdout + result.stderr


def tiny_video(folder: Path) -> Path:
    import subprocess

    clip = folder / "clip.mp4"
    if not clip.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=blue:s=360x640:r=30",
                        "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-pix_fmt", "yuv420p", "-c:v",
                        "libx264", "-c:a", "aac", str(clip)], check=True)
    return clip


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_secret_with_a_stray_newline_is_refused_by_name_and_never_echoed(config_dir, settings, clock, monkeypatch):
    receiver = FakeReceiver()
    try:
        set_channel(config_dir, "muong-la-webhook", mode="live", url=f'"{receiver.url}"',
                    reconcile_url=f'"{receiver.url}"')
        pasted = "leak-pasted-token-4410\r\nX-Injected: yes"
        monkeypatch.setenv("CCHC_WEBHOOK_TOKEN", pasted)
        checked = invoke(settings, "config", "check", extra_env={"CCHC_WEBHOOK_TOKEN": pasted})
        assert checked.returncode == 2 and "CCHC_WEBHOOK_TOKEN" in checked.stderr and "xuống dòng" in checked.stderr
        assert "leak-pasted" not in checked.stderr + checked.stdout
        channel = invoke(settings, "channel", "check", "muong-la-webhook", extra_env={"CCHC_WEBHOOK_TOKEN": pasted})
        assert channel.returncode == 1 and "CCHC_WEBHOOK_TOKEN" in channel.stdout
        assert "leak-pasted" not in channel.stdout
        app = make_app(settings, clock)
        at = START + timedelta(hours=1)
        approved(app, channels=["muong-la-webhook"], at=at)
        clock.moment = at
        app.dispatcher().run_once()
        from tests.helpers import all_deliveries

        [delivery] = all_deliveries(app)
        assert delivery.state == "failed" and "ký tự xuống dòng" in delivery.last_error
        assert "leak-pasted" not in delivery.last_error and receiver.requests == []  # nothing was sent
        app.engine.dispose()
    finally:
        receiver.close()


def test_redaction_hides_secret_shaped_pairs_and_leaves_vietnamese_prose_whole():
    """The fault: "password: mật khẩu cần…" became "password: [REDACTED] khẩu cần…" and an env name ending
    in TOKEN ate the first word of its message."""
    from channels.secrets import redact

    prose = ["Lỗi: password: mật khẩu cần ít nhất 10 ký tự",
             "CCHC_FB_MUONG_LA_TOKEN: chưa đặt mã truy cập Trang",
             "token: thiếu; hãy đặt lại"]
    assert [redact(line) for line in prose] == prose
    shaped = {"GET /v21.0/me?access_token=EAAGm0PX4ZCps&fields=id": "GET /v21.0/me?access_token=[REDACTED]&fields=id",
              '{"access_token": "abc123xyz789", "expires_in": 90}': '{"access_token": "[REDACTED]", "expires_in": 90}',
              "Authorization: Bearer s3cr3t-t0ken": "Authorization: Bearer [REDACTED]",
              "password=hunter22;": "password=[REDACTED];",
              "refresh_token: 9f8e7d6c5b4a": "refresh_token: [REDACTED]"}
    assert {line: redact(line) for line in shaped} == shaped
