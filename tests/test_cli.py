"""The command line end to end, on both databases: in this process through click's runner (fast), and
one tour through the installed ``cchc`` entry point as staff and cron run it."""

import csv
import io
import json
import unicodedata

import pytest

from tests.cli import invoke, run, snapshot


@pytest.fixture
def ready(settings):
    result = invoke(settings, "init", "--practice")  # these tests act "as if" at times in 2025 (--now)
    assert result.returncode == 0, result.stderr
    return settings


def queue_id(settings, *args):
    result = invoke(settings, "queue", "--user", "lan", "--now", "2025-09-01 07:00", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_init_twice_changes_nothing(ready):
    before = snapshot(ready.url)
    again = invoke(ready, "init")
    assert again.returncode == 0 and "0 thay đổi" in again.stdout
    assert snapshot(ready.url) == before


def test_queue_submit_refused_keeps_the_draft_and_names_its_real_id(ready):
    """The fault: the whole item was rolled back, yet the hint said "cchc translate 1 …", an id the next
    item queued would get."""
    refused = invoke(ready, "queue", "--user", "lan", "--now", "2025-09-01 07:00", "--title", "Lịch tiếp dân",
                     "--body", "Ủy ban xã tiếp dân sáng thứ Hai.", "--channel", "muong-la-loa", "--lang", "vi",
                     "--lang", "blt", "--next-slot", "--submit")
    assert refused.returncode == 1
    kept = refused.stdout.strip()
    assert f"cchc translate {kept} --lang blt" in refused.stderr and f"cchc submit {kept}" in refused.stderr
    shown = json.loads(invoke(ready, "show", kept, "--user", "lan", "--json").stdout)
    assert (shown["title"], shown["status"]) == ("Lịch tiếp dân", "draft")
    assert queue_id(ready, "--title", "Tin khác", "--body", "Nội dung.", "--channel", "web",
                    "--at", "2025-09-02 09:00") != kept


def test_queue_approve_and_publish_on_schedule_with_every_attempt_logged(ready):
    ann = queue_id(ready, "--title", "Lịch tiếp công dân tháng 9", "--body", "Chủ tịch UBND xã tiếp công dân.",
                   "--channel", "web", "--channel", "muong-la-webhook", "--lang", "vi", "--topic", "a",
                   "--at", "2025-09-02 06:00")
    assert run(ready, "submit", ann, "--user", "lan", "--now", "2025-09-01 07:05").returncode == 0
    refused = run(ready, "approve", ann, "--user", "lan", "--now", "2025-09-01 07:10")
    assert refused.returncode == 1 and "không được tự phê duyệt" in refused.stderr
    approved = run(ready, "approve", ann, "--user", "hung", "--now", "2025-09-01 07:10")
    assert approved.returncode == 0 and "2 lượt phát" in approved.stdout
    early = run(ready, "dispatch", "--once", "--now", "2025-09-02 05:59")
    assert "đã gửi: 0" in early.stdout
    on_time = run(ready, "dispatch", "--once", "--now", "2025-09-02 06:00")
    # the webhook is in preview mode
    assert "đã đăng/phát 1, xem trước (không đăng) 1" in on_time.stdout, on_time.stderr
    page = next((ready.data_dir / "site/muong-la-website/posts").glob("*.html")).read_text()
    assert "Lịch tiếp công dân tháng 9" in page
    table = run(ready, "logs")
    assert table.returncode == 0 and "muong-la-webhook" in table.stdout and "Đã đăng/phát" in table.stdout
    assert table.stdout.splitlines()[0].split()[:2] == ["thời", "gian"]  # Vietnamese column titles
    assert "/09/2025 " in table.stdout and "2025-09-" not in table.stdout  # and dates as Vietnamese write them
    rows = json.loads(run(ready, "logs", "--json", "--channel", "muong-la-website").stdout)
    assert [(r["action"], r["outcome"], r["state"]) for r in rows] == [("send", "sent", "delivered")]
    data = list(csv.DictReader(io.StringIO(run(ready, "logs", "--format", "csv", "--since", "2025-09-02").stdout)))
    assert {r["kênh"] for r in data} == {"muong-la-website", "muong-la-webhook"}
    assert {r["trạng thái"] for r in data} <= {"Đã đăng/phát", "Xem trước (không đăng)"}
    assert run(ready, "logs", "--json", "--until", "2025-09-01").stdout.strip() == "[]"
    shown = json.loads(run(ready, "show", ann, "--json").stdout)
    assert shown["status"] == "approved"
    assert {(d["channel"], d["state"]) for d in shown["deliveries"]} == {("muong-la-website", "delivered"),
                                                                         ("muong-la-webhook", "previewed")}


def test_listing_commands_speak_json(ready):
    ann = queue_id(ready, "--title", "Tin", "--body", "Nội dung", "--channel", "muong-la-website",
                   "--at", "2025-09-03 17:00", "--submit")
    invoke(ready, "approve", ann, "--user", "hung", "--now", "2025-09-01 08:00")
    assert json.loads(invoke(ready, "list", "--json").stdout)[0]["status"] == "approved"
    upcoming = json.loads(invoke(ready, "schedule", "--json", "--now", "2025-09-01 08:00").stdout)
    assert [(r["due"], r["state"]) for r in upcoming] == [("2025-09-03 17:00", "pending")]
    plans = json.loads(invoke(ready, "plan", "show", "--json").stdout)
    assert plans[0]["id"] == "muong-la-2025" and any(t["minimum"] == 4 for t in plans[0]["targets"])
    assert (plans[0]["issued"], plans[0]["effective"]) == ("2025-08-01", "2025-08-01")
    shown = invoke(ready, "plan", "show").stdout
    assert "áp dụng từ 01/08/2025" in shown and "không tính mục ban-tin" in shown


def test_schedule_next_answers_the_next_time_not_a_retry_waiting_since_earlier(ready):
    from datetime import UTC, datetime

    from sqlmodel import select

    from scheduler.outbox.deliveries import move
    from scheduler.record.db import make_engine, write_session
    from scheduler.record.models import Delivery
    from scheduler.record.models import DeliveryState as S

    for at in ("2025-09-02 09:00", "2025-09-03 17:00"):
        ann = queue_id(ready, "--title", f"Tin {at}", "--body", "Nội dung", "--channel", "muong-la-website",
                       "--at", at, "--submit")
        invoke(ready, "approve", ann, "--user", "hung", "--now", "2025-09-01 08:00")
    engine = make_engine(ready.url)
    with write_session(engine) as session:  # the first failed at its time and waits to be sent again
        first = session.exec(select(Delivery).order_by(Delivery.due_at)).first()
        move(first, S.SENDING, first.due_at)
        move(first, S.RETRY_WAIT, first.due_at, next_attempt_at=datetime(2025, 9, 2, 6, tzinfo=UTC))
    engine.dispose()
    listed = json.loads(invoke(ready, "schedule", "--json", "--now", "2025-09-02 12:00").stdout)
    assert [r["due"] for r in listed] == ["2025-09-02 09:00", "2025-09-03 17:00"]  # the retry is listed first
    assert invoke(ready, "schedule", "--next", "--now", "2025-09-02 12:00").stdout.strip() == "2025-09-03 17:00"


def test_translation_edit_and_cancel_through_the_cli(ready, tmp_path):
    ann = queue_id(ready, "--title", "Tin", "--body", "Nội dung", "--channel", "muong-la-website",
                   "--at", "2025-09-03 17:00")
    text = tmp_path / "blt.txt"
    text.write_text("ꪀꪱꪙ ꪻꪊ ꪣꪱꪥ ꪕꪮꪥ ꪎꪲꪙ", encoding="utf-8")
    done = invoke(ready, "translate", ann, "--lang", "blt", "--body-file", str(text), "--user", "lo.van.a")
    assert done.returncode == 0 and "tiếng Thái" in done.stdout
    edited = invoke(ready, "edit", ann, "--title", "Tin đã sửa", "--user", "lan", "--now", "2025-09-01 07:00")
    assert edited.returncode == 0 and "title" in edited.stdout
    cancelled = invoke(ready, "cancel", ann, "--user", "lan", "--reason", "trùng")
    assert cancelled.returncode == 0
    assert json.loads(invoke(ready, "show", ann, "--json").stdout)["translations"][0]["body"].startswith("ꪀꪱꪙ")


def test_decomposed_unicode_is_stored_as_nfc(ready):
    decomposed = unicodedata.normalize("NFD", "Cải cách hành chính")
    ann = queue_id(ready, "--title", decomposed, "--body", decomposed, "--channel", "web", "--at", "2025-09-03 17:00")
    stored = json.loads(invoke(ready, "show", ann, "--json").stdout)
    assert stored["body"] == unicodedata.normalize("NFC", decomposed) != decomposed


BAD = [
    (["--body", ""], "--body"),
    (["--at", "2025-02-30 06:00"], "không tồn tại"),
    (["--at", "2025-08-31 06:00"], "đã qua"),
    (["--at", "tomorrow"], "01/09/2025 06:00"),
    (["--channel", "facebook-muong-la"], "không có kênh"),
    (["--lang", "th"], "blt"),
    (["--lang", "klingon"], "không được hỗ trợ"),
    (["--topic", "zz"], "không có mục"),
]


@pytest.mark.parametrize(("change", "words"), BAD, ids=[words for _, words in BAD])
def test_bad_input_is_one_clear_line_exit_2_and_nothing_stored(ready, change, words):
    args = {"--title": "Tin", "--body": "Nội dung", "--channel": "web", "--at": "2025-09-03 17:00"}
    extra = []
    for key, value in zip(change[::2], change[1::2], strict=True):
        if key in args:
            args[key] = value
        else:
            extra += [key, value]
    before = snapshot(ready.url)
    flat = [item for pair in args.items() for item in pair] + extra
    result = invoke(ready, "queue", "--user", "lan", "--now", "2025-09-01 07:00", *flat)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(ready.url) == before


def test_a_200000_character_body_is_refused(ready, tmp_path):
    huge = tmp_path / "huge.txt"
    huge.write_text("ả" * 200_000, encoding="utf-8")
    before = snapshot(ready.url)
    result = invoke(ready, "queue", "--user", "lan", "--title", "Tin", "--body-file", str(huge),
                 "--channel", "web", "--at", "2030-01-01 06:00")
    assert result.returncode == 2 and "quá dài (200,000 ký tự, tối đa 20,000)" in result.stderr
    assert snapshot(ready.url) == before


def test_body_file_that_is_not_utf8_is_explained(ready, tmp_path):
    legacy = tmp_path / "tcvn3.txt"
    legacy.write_bytes("Thông báo".encode("cp1258"))
    before = snapshot(ready.url)
    result = invoke(ready, "queue", "--user", "lan", "--title", "Tin", "--body-file", str(legacy),
                 "--channel", "web", "--at", "2030-01-01 06:00")
    assert result.returncode == 2 and "UTF-8" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(ready.url) == before


def test_missing_user_and_unknown_id_are_clear(ready):
    result = invoke(ready, "queue", "--title", "Tin", "--body", "x", "--channel", "web", "--at", "2030-01-01 06:00")
    assert result.returncode == 2 and "--user" in result.stderr
    missing = invoke(ready, "approve", "999", "--user", "hung")
    assert missing.returncode == 1 and "không tìm thấy thông báo 999" in missing.stderr


def test_a_config_file_with_a_typo_fails_every_command_with_file_and_line(ready):
    channels = ready.config_dir / "channels.toml"
    channels.write_text(channels.read_text().replace('grace_minutes = 720', 'grace_minuts = 720'))
    before = snapshot(ready.url)
    for args in (["config", "check"], ["init"], ["queue", "--user", "lan", "--title", "t", "--body", "b",
                                                  "--channel", "web", "--at", "2030-01-01 06:00"]):
        result = invoke(ready, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "config/channels.toml:" in result.stderr and "grace_minuts" in result.stderr
    assert snapshot(ready.url) == before


def test_commands_refuse_a_database_that_was_not_initialised(settings, tmp_path):
    fresh = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    result = invoke(fresh, "list")
    assert result.returncode == 1 and "cchc init" in result.stderr


def test_loudspeaker_commands_speak_render_preview_and_log(ready, tmp_path):
    spoken = invoke(ready, "speech", "Ngày 01/8/2025, UBND xã")
    assert spoken.stdout.strip() == "Ngày mùng một tháng tám năm hai nghìn không trăm hai mươi lăm, Ủy ban nhân dân xã"
    out = tmp_path / "nghe.mp3"
    rendered = invoke(ready, "render", "--text", "Kính thưa bà con, CCHC.", "--out", str(out))
    assert rendered.returncode == 0 and "Giọng đọc: espeak-ng" in rendered.stdout and out.stat().st_size > 1000
    assert "cải cách hành chính" in rendered.stdout
    symbols = invoke(ready, "render", "--text", "📢📢", "--out", str(out))
    assert symbols.returncode == 2 and "không có chữ nào để đọc" in symbols.stderr and "Traceback" not in symbols.stderr
    ann = queue_id(ready, "--title", "Lịch tiếp dân", "--body", "Chủ tịch UBND xã tiếp dân.", "--channel", "loa",
                   "--at", "2025-09-01 16:00")
    assert invoke(ready, "submit", ann, "--user", "lan", "--now", "2025-09-01 07:01").returncode == 0
    assert invoke(ready, "approve", ann, "--user", "hung", "--now", "2025-09-01 07:02").returncode == 0
    bad_slot = invoke(ready, "programme", "--slot", "2025-09-01 16:00", "--now", "2025-09-01 07:03")
    assert bad_slot.returncode == 2 and "không phải khung giờ" in bad_slot.stderr and "06:00, 17:00" in bad_slot.stderr
    preview = invoke(ready, "programme", "--slot", "2025-09-01 17:00", "--now", "2025-09-01 07:03", "--json")
    assert preview.returncode == 0, preview.stderr
    assert [p["lang"] for p in json.loads(preview.stdout)["parts"]] == ["vi"]
    assert invoke(ready, "dispatch", "--once", "--now", "2025-09-01 17:00").returncode == 0
    assert invoke(ready, "dispatch", "--once", "--now", "2025-09-01 17:05").returncode == 0
    logged = json.loads(invoke(ready, "asrun", "--date", "2025-09-01", "--json", "--now", "2025-09-01 18:00").stdout)
    (slot,) = logged
    assert slot["status"] == "played" and slot["played"] == "1/1" and slot["parts"][0]["engine"] == "espeak-ng"


def test_approve_prints_the_hash_it_approved_and_can_pin_the_version_read(ready):
    ann = queue_id(ready, "--title", "Tin", "--body", "Nội dung", "--channel", "web", "--at", "2025-09-03 17:00")
    assert invoke(ready, "submit", ann, "--user", "lan", "--now", "2025-09-01 07:05").returncode == 0
    shown = invoke(ready, "show", ann).stdout
    read = next(line for line in shown.splitlines() if "--content" in line).split("--content ")[1].split()[0]
    queue_edit = invoke(ready, "edit", ann, "--body", "Nội dung đã sửa", "--user", "lan", "--now", "2025-09-01 07:06")
    assert queue_edit.returncode == 0
    assert invoke(ready, "submit", ann, "--user", "lan", "--now", "2025-09-01 07:07").returncode == 0
    stale = invoke(ready, "approve", ann, "--user", "hung", "--content", read, "--now", "2025-09-01 07:08")
    assert stale.returncode == 1 and "đã thay đổi sau khi bạn xem" in stale.stderr
    assert json.loads(invoke(ready, "show", ann, "--json").stdout)["status"] == "submitted"
    current = json.loads(invoke(ready, "show", ann, "--json").stdout)["content_hash"]
    done = invoke(ready, "approve", ann, "--user", "hung", "--content", current, "--now", "2025-09-01 07:09")
    assert done.returncode == 0 and f"Nội dung đã phê duyệt: {current}" in done.stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_password_asked_without_a_terminal_says_how_to_give_it(ready):
    """The fault: ``cchc user add`` from a script stopped on Python's GetPassWarning and "Đã dừng"."""
    assert run(ready, "user", "add", "mai", "--role", "admin", "--password-stdin",
               input_text="mat-khau-dai-2025\n").returncode == 0
    before = snapshot(ready.url)
    for args in (["user", "add", "thu", "--role", "editor", "--user", "mai"],
                 ["user", "passwd", "mai", "--user", "mai"]):
        asked = run(ready, *args, input_text="")
        assert asked.returncode == 2, asked.stderr
        assert "--password-stdin" in asked.stderr and "Warning" not in asked.stderr, asked.stderr
    assert snapshot(ready.url) == before


def test_once_accounts_exist_a_name_must_be_a_person_whose_role_allows_the_action(ready):
    for name, role in (("lan", "editor"), ("hung", "approver")):
        made = invoke(ready, "user", "add", name, "--role", role, "--password-stdin", input_text="mat-khau-dai-2025\n")
        assert made.returncode == 0, made.stderr
    reserved = invoke(ready, "user", "add", "cchc-fill", "--role", "admin", "--password-stdin",
                      input_text="mat-khau-dai-2025\n")
    assert reserved.returncode == 2 and "dành cho các việc hệ thống" in reserved.stderr
    ann = queue_id(ready, "--title", "Tin", "--body", "Nội dung", "--channel", "web", "--at", "2025-09-03 17:00",
                   "--submit")
    before = snapshot(ready.url)
    for args, env, words in [
        (["approve", ann, "--user", "nguoi-la"], {}, "không phải tài khoản đang hoạt động"),
        (["approve", ann], {"CCHC_USER": "khach"}, "không phải tài khoản đang hoạt động"),
        (["approve", ann, "--user", "lan"], {}, "không được phê duyệt"),
        (["reject", ann, "--user", "lan", "--reason", "x"], {}, "không được từ chối"),
        (["cancel", ann, "--user", "lan"], {}, "không được hủy"),
        (["queue", "--user", "ai-do", "--title", "T", "--body", "B", "--channel", "web", "--next-slot"], {},
         "không phải tài khoản"),
    ]:
        refused = invoke(ready, *args, "--now", "2025-09-01 07:10", extra_env=env)
        assert refused.returncode == 2 and words in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1
    assert snapshot(ready.url) == before
    done = invoke(ready, "approve", ann, "--user", "Hung", "--now", "2025-09-01 07:10")
    assert done.returncode == 0, done.stderr
    approvals = json.loads(invoke(ready, "show", ann, "--json").stdout)["approvals"]
    assert [(a["decision"], a["by"]) for a in approvals] == [("approved", "hung")]


def test_acting_as_if_at_another_time_never_uses_up_the_real_schedule(settings):
    """On real data --now only reads; --scratch tries everything on a copy, the real slot stays untouched."""
    from datetime import datetime, timedelta

    from scheduler.clock import LOCAL_TZ

    assert invoke(settings, "init").returncode == 0
    tomorrow = (datetime.now(LOCAL_TZ) + timedelta(days=1)).strftime("%Y-%m-%d")
    ann = invoke(settings, "queue", "--user", "lan", "--title", "Lịch tiếp dân", "--body", "Nội dung.",
                 "--channel", "loa", "--at", f"{tomorrow} 06:00", "--submit").stdout.strip()
    assert invoke(settings, "approve", ann, "--user", "hung").returncode == 0
    real = snapshot(settings.url)
    for args in (["dispatch", "--once"], ["queue", "--user", "lan", "--title", "T", "--body", "B", "--channel", "web",
                                           "--next-slot"],
                 ["cancel", ann, "--user", "hung"], ["programme", "--slot", f"{tomorrow} 06:00", "--build"],
                 ["run"], ["init"]):
        refused = invoke(settings, *args, "--now", f"{tomorrow} 06:00")
        assert refused.returncode == 2 and "--scratch" in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1
    assert snapshot(settings.url) == real
    # reading from another time is fine
    looked = invoke(settings, "schedule", "--json", "--now", f"{tomorrow} 05:00")
    assert looked.returncode == 0 and len(json.loads(looked.stdout)) == 1

    tried = invoke(settings, "dispatch", "--once", "--scratch", "--now", f"{tomorrow} 06:00")
    assert tried.returncode == 0, tried.stderr
    assert "dữ liệu thật không bị thay đổi" in tried.stderr
    assert snapshot(settings.url) == real  # the real slot has not played and the item is still waiting
    scratch = settings.data_dir / "scratch"
    assert list((scratch / "playout" / "muong-la-loa").glob(f"{tomorrow}/0600.mp3"))
    assert not (settings.data_dir / "playout").exists()
    played = json.loads(invoke(settings, "asrun", "--scratch", "--date", tomorrow, "--json").stdout)
    assert [(r["slot"][-5:], r["status"]) for r in played] == [("06:00", "playing")]
    assert json.loads(invoke(settings, "asrun", "--date", tomorrow, "--json").stdout) == []
    again = invoke(settings, "scratch", "--reset")
    assert again.returncode == 0 and "vừa sao chép" in again.stdout
    assert json.loads(invoke(settings, "asrun", "--scratch", "--date", tomorrow, "--json").stdout) == []
    refused = invoke(settings, "init", "--practice")
    assert refused.returncode == 1 and "đã có thông báo thật" in refused.stderr


OUT_OF_RANGE = [
    (["queue", "--user", "lan", "--title", "T", "--body", "B", "--channel", "web", "--at", "0001-01-01 00:00"],
     "năm 1 nằm ngoài khoảng 2000–2100"),
    (["queue", "--user", "lan", "--title", "T", "--body", "B", "--channel", "web", "--at", "9999-12-31 23:59"],
     "năm 9999 nằm ngoài khoảng"),
    (["show", "99999999999999999999"], "giá trị không hợp lệ cho ID"),
    (["approve", "9223372036854775808", "--user", "hung"], "số nằm ngoài khoảng cho phép"),
    (["report", "--period", "9999"], "năm 9999"),
    (["compliance", "--period", "0000"], "năm 0 nằm ngoài khoảng"),
    (["logs", "--since", "0001-01-01"], "--since: năm 1"),
    (["asrun", "--date", "9999-12-31"], "--date: năm 9999"),
    (["schedule", "--now", "9999-12-31 23:00"], "--now: năm 9999"),
    (["simulate", "--from", "9999-12-01", "--to", "9999-12-31"], "--from: năm 9999"),
    (["frobnicate"], "không có lệnh 'frobnicate'; xem: cchc --help"),
    (["report"], "thiếu tùy chọn --period"),
    (["show"], "thiếu giá trị ID"),
    (["queue", "--bogus"], "không có tùy chọn --bogus"),
    (["list", "--status", "nope"], "cần một trong"),
    (["schedule", "--days", "abc"], "cần một số nguyên"),
]


@pytest.mark.parametrize(("args", "words"), OUT_OF_RANGE, ids=[" ".join(a)[:40] for a, _ in OUT_OF_RANGE])
def test_out_of_range_input_and_usage_errors_are_one_vietnamese_line(ready, args, words):
    before = snapshot(ready.url)
    result = invoke(ready, *args)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr + result.stdout
    assert "Error" not in result.stderr and "Usage" not in result.stderr
    assert snapshot(ready.url) == before


def test_a_nul_byte_in_any_text_is_refused_the_same_on_both_databases(ready, tmp_path):
    poisoned = tmp_path / "nul.txt"
    poisoned.write_bytes("Nội dung\x00có ký tự NUL".encode())
    before = snapshot(ready.url)
    result = invoke(ready, "queue", "--user", "lan", "--title", "T", "--body-file", str(poisoned), "--channel", "web",
                    "--next-slot")
    assert result.returncode == 2 and "ký tự NUL" in result.stderr and snapshot(ready.url) == before


def test_log_lines_are_json_when_asked_with_secrets_redacted(ready):
    """CCHC_LOG_FORMAT=json: every line the service logs is one JSON object (for journald or Zabbix);
    a value that is not text or json is refused in Vietnamese, before anything runs."""
    made = queue_id(ready, "--title", "Tin cũ", "--body", "Nội dung.", "--channel", "web", "--at",
                    "2025-09-01 08:00")
    assert invoke(ready, "submit", made, "--user", "lan", "--now", "2025-09-01 07:01").returncode == 0
    assert invoke(ready, "approve", made, "--user", "hung", "--now", "2025-09-01 07:02").returncode == 0
    env = {"CCHC_LOG_FORMAT": "json", "CCHC_LOG_LEVEL": "INFO"}
    done = run(ready, "dispatch", "--once", extra_env=env)  # the item's time is long past: it expires
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(set(line) == {"time", "level", "logger", "message"} for line in lines)
    assert any(line["level"] == "WARNING" and "expired" in line["message"] for line in lines)
    wrong = invoke(ready, "dispatch", "--once", extra_env={"CCHC_LOG_FORMAT": "xml"})
    assert wrong.returncode == 2 and "CCHC_LOG_FORMAT" in wrong.stderr and "json" in wrong.stderr


def test_json_log_lines_carry_no_secret():
    import logging

    from channels.secrets import RedactingFilter
    from scripts.commands.common import JsonLines

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("cchc.test-json")
    logger.addHandler(handler)
    try:
        logger.warning("platform said: invalid access_token=EAAGm0PX4ZCpsBAKZAlongsecretvalue for %s", "page")
    finally:
        logger.removeHandler(handler)
    line = json.loads(out.getvalue())
    assert "EAAGm0PX4ZCpsBAKZAlongsecretvalue" not in out.getvalue() and line["message"].endswith("for page")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_help_is_in_vietnamese(settings):
    """The fault: every --help said "Usage:", "Options:", "Show this message and exit.", "[default: 7]"."""
    import re

    for args in (["--help"], ["schedule", "--help"], ["user", "--help"], ["user", "add", "--help"]):
        shown = invoke(settings, *args).stdout
        assert "Cách dùng: cchc" in shown and "Xem hướng dẫn này rồi thoát." in shown, shown
        assert not re.search(r"Usage|Options|Commands|Show this message|default:|required\]", shown), shown


def test_show_and_list_say_where_and_when_before_approval(ready):
    """The fault: ``cchc show`` (what the approver reads) listed no channel and no time before approval, and
    lists said "khung giờ kế tiếp" instead of the time."""
    ann = queue_id(ready, "--title", "Lịch tiêm chủng", "--body", "Tiêm chủng tại trạm y tế xã.", "--channel", "loa",
                   "--channel", "web", "--lang", "vi", "--next-slot", "--submit")
    shown = invoke(ready, "show", ann, "--user", "hung", "--now", "2025-09-01 07:05").stdout
    assert "Kênh: muong-la-loa, muong-la-website" in shown and "Tiếng: tiếng Việt" in shown, shown
    assert "Giờ phát: khung giờ kế tiếp (nếu duyệt lúc này: 2025-09-01 17:00)" in shown, shown
    listed = invoke(ready, "list", "--user", "hung", "--now", "2025-09-01 07:05").stdout
    assert "khung giờ kế tiếp (nếu duyệt lúc này: 2025-09-01 17:00)" in listed, listed
    assert invoke(ready, "approve", ann, "--user", "hung", "--now", "2025-09-01 07:06").returncode == 0
    listed = invoke(ready, "list", "--user", "hung", "--now", "2025-09-01 07:07").stdout
    assert "01/09/2025 17:00" in listed and "nếu duyệt" not in listed, listed
