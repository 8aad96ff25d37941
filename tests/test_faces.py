"""Every face obeys the unit rules: each ``cchc`` command and each web route, tried by a commune's administrator
against another commune's item, delivery, recording, evidence, channel and accounts, shows none of it and
changes nothing. The walks enumerate the command tree and the web app's routes, so a new command or route
without a case here fails (and must say which unit rule it follows).

And ``--now`` is for trying: every command that can write refuses it on real data; the walk runs each with
``--now`` and proves the database and the configuration unchanged where it was not refused.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import click
import pytest
from sqlmodel import select

from scheduler import announcements
from scheduler.announcements import Draft
from scheduler.loudspeaker import station
from scheduler.outbox.holds import hold_channel
from scheduler.plans import activities
from scheduler.record import backup, users
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Delivery, Notice
from scripts.cli import cli
from tests.cli import Rows, invoke
from tests.conftest import START
from tests.helpers import add_commune, approved, dispatch, make_app, tone
from tests.web import add_staff, logged_in

PASSWORD = "mat-khau-dung-chung-2025"
OTHER = "io.quantri"  # Ít Ong's administrator: every right in its commune, none in Mường La
TITLE, BODY = "Tin riêng Mường La về lịch tiếp dân", "Nội dung chỉ của xã Mường La: tiếp dân sáng thứ Năm."
# Anything of Mường La (lowercased): what a clean answer to Ít Ong never holds.
MARKERS = ("mường la", "muong-la", "ml-2025", "tiếp dân sáng thứ năm", "hội nghị riêng")
# Why a refused case was refused: one of the unit rules' own phrases (scheduler.record.scope, announcements).
SCOPE_PHRASES = ("thuộc đơn vị khác", "không xem được", "trong các đơn vị bạn làm việc", "làm việc với cả hệ thống",
                 "không thuộc đơn vị", "chỉ soạn, sửa, gửi duyệt", "chỉ xem, không sửa")


@pytest.fixture
def offices(config_dir, settings, clock, tmp_path):
    """Mường La with a year's worth of things (an approved item in Vietnamese and Thái with a translator's
    recording, sent to its website and played on its loudspeakers, a station jingle, an activity with its
    evidence, a notice, an open web session), a province item on both communes' loudspeakers, and Ít Ong
    with its own administrator."""
    add_commune(config_dir)
    from scheduler.config import load_config
    from scheduler.plans.plan_import import copy_for_year

    plan_id, text = copy_for_year(config_dir, load_config(config_dir), "muong-la-2025", 2025, None, "it-ong")
    write(config_dir / "plans" / f"{plan_id}.toml", text)  # Ít Ong's plan, its own name in its texts
    app = make_app(settings, clock)
    add_staff(app)  # lan, hung, mai of Mường La
    with write_session(app.engine) as session:
        for name, role, unit in ((OTHER, "admin", "it-ong"), ("io.bientap", "editor", "it-ong"),
                                 ("sl.bientap", "editor", "son-la"), ("sl.duyet", "approver", "son-la")):
            users.add_user(session, name=name, role=role, password=PASSWORD, unit=unit, actor="test", now=app.now())
    recording = tone(tmp_path / "ghi-am-thai.wav", seconds=2, volume_db=-12)
    item = approved(app, title=TITLE, body=BODY, channels=["muong-la-website", "muong-la-loa"], languages=["vi"],
                    translations={"blt": ("Bản tiếng Thái của tin riêng.", recording)}, next_slot=True)
    with write_session(app.engine) as session:
        province = announcements.create(session, config=app.config, author="sl.bientap", now=app.now(), draft=Draft(
            unit="son-la", title="Tỉnh thông báo dịch vụ công trực tuyến", body="Người dân nộp hồ sơ trực tuyến.",
            channels=["muong-la-loa", "it-ong-loa"], languages=["vi"], next_slot=True))
        announcements.submit(session, ann=province, actor="sl.bientap", now=app.now())
        announcements.approve(session, config=app.config, ann=province, approver="sl.duyet", now=app.now())
        station.store(session, app.config, settings.data_dir, channel="muong-la-loa", kind="jingle", lang="",
                      source=tone(tmp_path / "nhac-hieu.mp3", seconds=3, volume_db=-14), actor="hung", now=app.now())
        activities.record(session, app.config, settings.data_dir, unit="muong-la", kind="conference",
                          held_on=START.date(), title="Hội nghị riêng của xã", evidence=png(tmp_path / "anh.png"),
                          actor="lan", now=app.now())
        session.add(Notice(key="test:1", unit_id="muong-la", kind="approval", recipient="hung@muong-la.example",
                           subject=f"Tin chờ duyệt: {TITLE}", body=BODY, next_attempt_at=app.now(),
                           created_at=app.now()))
    dispatch(app, clock, START + timedelta(hours=4))  # the website item goes out at its slot (10:00)
    broadcaster = app.broadcaster()
    broadcaster.play("muong-la-loa", START.replace(hour=10))  # Mường La's 17:00 slot is at 10:00 UTC
    logged_in(app, "lan")  # an open session of Mường La's editor
    with write_session(app.engine) as session:
        for name in ("muong-la-website", "it-ong-website"):  # held until a person checks its credentials
            hold_channel(session, name, "nền tảng từ chối mã truy cập (thử)", app.now())
    clock.moment = START + timedelta(hours=5)
    with read_session(app.engine) as session:
        delivery = session.exec(select(Delivery).where(Delivery.channel_id == "muong-la-website")).first()
    files = {"ann": str(item.id), "prov": str(province.id), "delivery": str(delivery.id),
             "jingle": str(tmp_path / "nhac-hieu.mp3"), "evidence": str(png(tmp_path / "minh-chung.png")),
             "out": str(tmp_path / "ra.mp3"), "report": str(tmp_path / "bao-cao.docx"),
             "backup": str(backup.backup(app.engine, settings.data_dir, tmp_path / "sao-luu.tar.gz",
                                         now=app.now()).path),
             "units": str(write(tmp_path / "don-vi.csv", "code,name,level,parent,slots\n"
                                                         "ta-hoc,Xã Tạ Học,commune,son-la,06:00\n")),
             "plan": str(write(tmp_path / "ke-hoach.txt", "KẾ HOẠCH Tuyên truyền CCHC năm 2025\n"))}
    yield app, files
    app.engine.dispose()


def png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (8, 8), "white").save(path)
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- the command line ------------------------------------------------------------------------------------

# Each case: the command as Ít Ong's administrator types it, aimed at Mường La, and what must happen:
# "refused" (a unit rule's message, nothing changed) or "clean" (it answers about Ít Ong only).
COMMANDS = [
    ("init", "refused"),
    ("backup --out {out}.tar.gz", "refused"),
    ("restore {backup} --replace", "refused"),
    ("config check", "refused"),
    ("plan show --unit muong-la", "refused"),
    ("plan new --year 2026 --from muong-la-2025 --unit muong-la", "refused"),
    ("plan import {plan} --unit muong-la", "refused"),
    ("unit import {units}", "refused"),
    ("unit list", "clean"),
    ("queue --unit muong-la --title Tin --body Tin. --channel muong-la-website --next-slot", "refused"),
    ("queue --title Tin --body Tin. --channel muong-la-website --next-slot", "refused"),
    ("edit {ann} --title Sửa", "refused"),
    ("translate {ann} --lang blt --body Dịch", "refused"),
    ("approve {ann}", "refused"),
    ("submit {ann}", "refused"),
    ("reject {ann} --reason Sai", "refused"),
    ("cancel {ann} --reason Hủy", "refused"),
    ("settle {delivery} --not-posted", "refused"),
    ("list", "clean"),
    ("list --json", "clean"),
    ("list --unit muong-la", "refused"),
    ("show {ann}", "refused"),
    ("show {prov} --json", "clean"),  # a province item on Ít Ong's loudspeakers: Ít Ong's row only
    ("show {prov}", "clean"),
    ("schedule --days 30", "clean"),
    ("schedule --unit muong-la", "refused"),
    ("activity add --kind conference --date 01/09/2025 --title Họp --evidence {evidence} --unit muong-la", "refused"),
    ("activity list --unit muong-la", "refused"),
    ("activity list", "clean"),
    ("run", "refused"),
    ("web", "refused"),
    ("user add io.moi --role editor --unit muong-la --password-stdin", "refused"),
    ("user unit lan it-ong", "refused"),
    ("user list", "clean"),
    ("user list --json", "clean"),
    ("user passwd lan --password-stdin", "refused"),
    ("user disable lan", "refused"),
    ("user enable lan", "refused"),
    ("user sessions lan", "refused"),
    ("user sessions lan --revoke", "refused"),
    ("audit", "clean"),
    ("audit --json", "clean"),
    ("audit --unit muong-la", "refused"),
    ("notices", "clean"),
    ("notices --json", "clean"),
    ("dispatch --once", "refused"),
    ("logs", "clean"),
    ("logs --format csv", "clean"),
    ("logs --json", "clean"),
    ("logs --channel muong-la-website", "refused"),
    ("logs --unit muong-la", "refused"),
    ("speech UBND", "clean"),
    ("render {ann} --lang blt --out {out}", "refused"),
    ("render --text Thử --channel muong-la-loa --out {out}", "refused"),
    ("programme --channel muong-la-loa --slot 2025-09-01 17:00", "refused"),
    ("asrun --date 2025-09-01", "clean"),
    ("asrun --date 2025-09-01 --json", "clean"),
    ("asrun --date 2025-09-01 --channel muong-la-loa", "refused"),
    ("station list", "clean"),
    ("station list --json", "clean"),
    ("station list --channel muong-la-loa", "refused"),
    ("station set jingle {jingle} --channel muong-la-loa", "refused"),
    ("station clear jingle --channel muong-la-loa", "refused"),
    ("preview {ann} --channel muong-la-facebook", "refused"),
    ("preview {ann} --channel it-ong-website", "refused"),
    ("channel check muong-la-website", "refused"),
    ("channel token muong-la-zalo --refresh-token-stdin", "refused"),
    ("compliance --unit muong-la --period 2025-09", "refused"),
    ("simulate --from 2025-09-01 --to 2025-09-07 --unit muong-la", "refused"),
    ("report --period 2025-Q3 --unit muong-la --out {report}", "refused"),
]
# No --user at all: they touch nothing of a unit (a new key), or only the operator runs them (the practice copy).
WITHOUT_ACCOUNT = {"channel key", "scratch"}


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= command_paths(command, (*prefix, name))
        else:
            found[" ".join((*prefix, name))] = command
    return found


def case_path(line: str, paths: dict) -> str:
    words = line.split()
    return " ".join(words[:2]) if " ".join(words[:2]) in paths else words[0]


def test_every_command_has_its_unit_rule_here():
    paths = command_paths()
    covered = {case_path(line, paths) for line, _ in COMMANDS}
    assert set(paths) - covered - WITHOUT_ACCOUNT == set(), "a command without a case in COMMANDS"
    for name in WITHOUT_ACCOUNT:
        assert "--user" not in {o for p in paths[name].params for o in p.opts}


def test_a_commune_administrator_reads_and_changes_nothing_of_another_commune_from_any_command(offices):
    app, files = offices
    snapshot, failures = Rows(app.settings.url), []
    for line, expect in COMMANDS:
        args = [word.format(**files) for word in split(line)]
        before = snapshot()
        result = invoke(app.settings, *args, "--user", OTHER, input_text="Mat-khau-moi-2026!!\n")
        said = (result.stdout + result.stderr).lower()
        leaked = [m for m in MARKERS if m in result.stdout.lower()]
        if expect == "refused":
            if result.returncode == 0 or not any(p in said for p in SCOPE_PHRASES):
                failures.append(f"{line}: not refused by a unit rule ({result.returncode}): {said[:300]}")
            elif TITLE.lower() in said or snapshot() != before:
                failures.append(f"{line}: refused, but showed or changed Mường La's data")
        elif result.returncode != 0 or leaked or snapshot() != before:
            failures.append(f"{line}: {result.returncode}, shows {leaked}: {said[:300]}")
    snapshot.close()
    assert not failures, "\n".join(failures)


def split(line: str) -> list[str]:
    """The words of a case; a slot's date and time stay one argument."""
    words, out = line.split(), []
    for word in words:
        if out and out[-1].count("-") == 2 and len(out[-1]) == 10 and word[:2].isdigit() and ":" in word:
            out[-1] += f" {word}"
        else:
            out.append(word)
    return out


# -- the web app ---------------------------------------------------------------------------------------

# Each route: a request of Ít Ong's administrator aimed at Mường La, and what must happen ("refused": 400 or 403,
# nothing shown or changed; "clean": it answers about Ít Ong only). Public routes need no session.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/setup"), ("POST", "/logout"), ("GET", "/fonts/{name}"),
          ("GET", "/healthz"), ("GET", "/api/docs"), ("GET", "/api/openapi.json")}
ROUTES = [
    ("POST", "/unit", {"unit": "muong-la"}, "refused"),
    ("GET", "/", None, "clean"),
    ("GET", "/announcements", None, "clean"),
    ("GET", "/approvals", None, "clean"),
    ("GET", "/announcements/new", None, "clean"),
    ("GET", "/announcements/{ann}/edit", None, "refused"),
    ("POST", "/announcements", {"title": "Tin", "body": "Tin.", "channels": "muong-la-website",
                                "languages": "vi", "at": "2025-09-02T09:00", "priority": "normal"}, "refused"),
    ("POST", "/announcements/{ann}/edit", {"title": "Sửa trộm"}, "refused"),
    ("GET", "/announcements/{ann}", None, "refused"),
    ("GET", "/announcements/{prov}", None, "clean"),
    ("POST", "/api/preview", {"title": "Thử", "body": "Thử.", "channels": "muong-la-loa", "languages": "vi"},
     "clean"),
    ("GET", "/announcements/{ann}/audio/blt", None, "refused"),
    ("POST", "/announcements/{ann}/approve", {"content_hash": "0" * 64}, "refused"),
    ("POST", "/announcements/{ann}/cancel", {"reason": "Hủy"}, "refused"),
    ("GET", "/deliveries", None, "clean"),
    ("GET", "/deliveries?channel=muong-la-website", None, "refused"),
    ("GET", "/deliveries.csv", None, "clean"),
    ("POST", "/deliveries/{delivery}/settle", {"posted": "0"}, "refused"),
    ("GET", "/calendar?view=month&day=2025-09-01", None, "clean"),
    ("GET", "/reports", None, "clean"),
    ("GET", "/reports/download?period=2025-Q3&fmt=docx", None, "clean"),
    ("GET", "/channels", None, "clean"),
    ("POST", "/channels/muong-la-loa/station", {"kind": "jingle", "lang": ""}, "refused"),
    ("POST", "/channels/muong-la-loa/station/clear", {"kind": "jingle", "lang": ""}, "refused"),
    ("GET", "/channels/muong-la-loa/station/jingle/-", None, "refused"),
    ("GET", "/channels/muong-la-loa", None, "refused"),
    ("POST", "/channels/muong-la-loa", {"title": "Sửa trộm", "grace_minutes": "1"}, "refused"),
    ("POST", "/channels/muong-la-loa/check", {}, "refused"),
    ("POST", "/channels/muong-la-zalo/token", {"token": "ma-lay-trom"}, "refused"),
    ("GET", "/activities", None, "clean"),
    ("POST", "/activities", {"kind": "conference", "held_on": "2025-09-01", "title": "Họp", "unit": "muong-la"},
     "refused"),
    ("GET", "/activities/1/evidence", None, "refused"),
    ("GET", "/province", None, "refused"),  # the province's page of its communes
    ("GET", "/province/export?fmt=xlsx", None, "refused"),
    ("GET", "/users", None, "clean"),
    ("POST", "/users", {"name": "io.moi", "role": "editor", "password": PASSWORD, "unit": "muong-la"}, "refused"),
    ("POST", "/users/lan/passwd", {"password": "Mat-khau-moi-2026!!"}, "refused"),
    ("POST", "/users/lan/disable", {}, "refused"),
    ("POST", "/plans/new-year", {"unit": "muong-la", "year": "2027"}, "refused"),
    ("GET", "/units", {}, "clean"),
    ("POST", "/units/import", {}, "refused"),
    ("GET", "/audit", None, "clean"),
    ("GET", "/api/me", None, "clean"),
    ("GET", "/api/announcements", None, "clean"),
    ("GET", "/api/announcements?unit=muong-la", None, "refused"),
    ("POST", "/api/announcements", {"title": "Tin", "body": "Tin.", "channels": ["muong-la-website"],
                                    "at": "2025-09-02 09:00"}, "refused"),
    ("GET", "/api/announcements/{ann}", None, "refused"),
    ("GET", "/api/announcements/{prov}", None, "clean"),
    ("POST", "/api/announcements/{ann}/approve?content_hash=" + "0" * 64, {}, "refused"),
    ("GET", "/api/deliveries", None, "clean"),
    ("GET", "/api/deliveries?channel=muong-la-website", None, "refused"),
]


def test_every_route_has_its_unit_rule_here():
    from scheduler.web.routes import ROUTERS

    routes = {(method, route.path) for router in ROUTERS for route in router.routes for method in route.methods}
    covered = {(method, path.split("?")[0].replace("{ann}", "{announcement_id}")
                .replace("{prov}", "{announcement_id}").replace("{delivery}", "{delivery_id}"))
               for method, path, _, _ in ROUTES}
    named = {(m, p.replace("/channels/muong-la-loa", "/channels/{name}").replace("/muong-la-zalo/", "/{name}/")
              .replace("/lan/", "/{name}/")
              .replace("/1/evidence", "/{activity_id}/evidence")
              .replace("/jingle/-", "/{kind}/{lang}").replace("/approve", "/{action}").replace("/cancel", "/{action}")
              .replace("/passwd", "/{action}").replace("/disable", "/{action}").replace("/audio/blt", "/audio/{lang}"))
             for m, p in covered}
    assert routes - named - PUBLIC == set(), "a route without a case in ROUTES"


def test_a_commune_administrator_reads_and_changes_nothing_of_another_commune_on_any_page(offices):
    app, files = offices
    browser, csrf = logged_in(app, OTHER, PASSWORD)
    snapshot, failures = Rows(app.settings.url), []
    channels_file = (app.settings.config_dir / "channels.toml").read_bytes()
    for method, path, data, expect in ROUTES:
        address = path.format(**files)
        before = snapshot()
        if method == "GET":
            answer = browser.get(address)
        elif address.startswith("/api/") and address != "/api/preview":
            answer = browser.post(address, json=data, headers={"X-CSRF-Token": csrf})
        else:
            answer = browser.post(address, data={"csrf": csrf, **data})
        text = readable(answer.content).lower()
        leaked = [m for m in MARKERS if m in text]
        changed = snapshot() != before
        if expect == "refused" and (answer.status_code not in (400, 403) or TITLE.lower() in text or changed):
            failures.append(f"{method} {path}: {answer.status_code}, changed={changed}: {text[:300]}")
        elif expect == "clean" and (answer.status_code != 200 or leaked or changed):
            failures.append(f"{method} {path}: {answer.status_code}, shows {leaked}: {text[:300]}")
    assert (app.settings.config_dir / "channels.toml").read_bytes() == channels_file
    snapshot.close()
    assert not failures, "\n".join(failures)


def readable(content: bytes) -> str:
    """A page, or every XML part of a DOCX or XLSX download, as text."""
    if content[:2] != b"PK":
        return content.decode("utf-8", "replace")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
                       if name.endswith(".xml"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_province_item_shows_a_commune_only_its_own_delivery_rows(offices):
    app, files = offices
    commune, _ = logged_in(app, OTHER, PASSWORD)
    shown = commune.get(f"/api/announcements/{files['prov']}").json()
    assert [row["channel"] for row in shown["deliveries"]] == ["it-ong-loa"] and shown["channels"] == ["it-ong-loa"]
    province, _ = logged_in(app, "sl.duyet", PASSWORD)
    every = province.get(f"/api/announcements/{files['prov']}").json()
    assert sorted(row["channel"] for row in every["deliveries"]) == ["it-ong-loa", "muong-la-loa"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_commune_s_own_station_recording_is_still_there_to_listen_to(offices):
    app, _ = offices
    own, _ = logged_in(app, "hung")
    answer = own.get("/channels/muong-la-loa/station/jingle/-")
    with read_session(app.engine) as session:
        stored = station.path_of(app.settings.data_dir, station.find(session, "muong-la-loa", "jingle", ""))
    assert answer.status_code == 200 and answer.content == stored.read_bytes()


# -- --now on real data ----------------------------------------------------------------------------------

# Each command with what would write if it ran; on real data with --now it must be refused or change nothing.
NOW = "2030-01-01 00:00"


def test_no_command_changes_real_data_as_if_it_were_another_time(offices):
    app, files = offices
    paths = command_paths()
    snapshot, covered, failures = Rows(app.settings.url), set(), []
    config = app.settings.config_dir
    for line, _ in COMMANDS + [("approve {prov}", ""), ("channel check it-ong-website", ""),
                               ("station set jingle {jingle} --channel it-ong-loa", ""),
                               ("programme --channel muong-la-loa --slot 2025-09-01 17:00 --build", ""),
                               ("user sessions lan --revoke", ""), ("init --samples", "")]:
        path = case_path(line, paths)
        if "--now" not in {o for p in paths[path].params for o in p.opts}:
            continue
        covered.add(path)
        args = [word.format(**files) for word in split(line)]
        before, files_before = snapshot(), tree(config)
        result = invoke(app.settings, *args, "--now", NOW, input_text="Mat-khau-moi-2026!!\n")  # the operator
        refused = result.returncode != 0 and "--now chỉ để thử" in result.stderr
        if not refused and (snapshot() != before or tree(config) != files_before):
            failures.append(f"{line}: changed real data at another time ({result.returncode}): {result.stderr[:200]}")
    snapshot.close()
    assert set(paths) - covered <= WITHOUT_ACCOUNT
    assert not failures, "\n".join(failures)


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
