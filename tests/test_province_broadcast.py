"""A province-wide broadcast: a province item addressed to its communes' loudspeakers, approved once at the
province, plays in each commune's own slots (an emergency at once in every one), shows in each commune's
schedule and as-run, counts for each commune's loudspeaker target, and no commune can cancel it."""

from datetime import timedelta

import pytest
from sqlmodel import select

from scheduler import announcements, queries
from scheduler.announcements import Draft
from scheduler.errors import InputError, RuleError
from scheduler.plans.compliance import evaluate
from scheduler.plans.periods import parse_period
from scheduler.record import users
from scheduler.record.db import read_session, write_session
from scheduler.record.models import AsRun, Delivery
from scheduler.record.models import DeliveryState as S
from tests.conftest import START
from tests.helpers import add_commune, make_app, set_channel

LOUDSPEAKERS = ["muong-la-loa", "it-ong-loa"]


@pytest.fixture
def province(config_dir, settings, clock):
    add_commune(config_dir)
    for name in LOUDSPEAKERS:
        set_channel(config_dir, name, station_id='"Đài xã."', outro='"Hết."', gap_ms="300", item_gap_ms="500")
    app = make_app(settings, clock)
    with write_session(app.engine) as session:
        for name, role, unit in (("bientap", "editor", "son-la"), ("duyet", "approver", "son-la"),
                                 ("hoa", "approver", "it-ong")):
            users.add_user(session, name=name, role=role, password="mat-khau-dung-chung-2025", unit=unit,
                           actor="test", now=app.now())
    yield app
    app.engine.dispose()


def broadcast(app, **fields):
    with write_session(app.engine) as session:
        ann = announcements.create(session, config=app.config, author="bientap", now=app.now(), draft=Draft(
            unit="son-la", title="Tỉnh Sơn La thông báo về dịch vụ công trực tuyến",
            body="Từ tháng 9/2025, người dân nộp hồ sơ trực tuyến trên Cổng dịch vụ công của tỉnh.",
            channels=LOUDSPEAKERS, languages=["vi"], next_slot=True, **fields))
        announcements.submit(session, ann=ann, actor="bientap", now=app.now())
        announcements.approve(session, config=app.config, ann=ann, approver="duyet", now=app.now())
        return ann


def rows(app, model):
    with read_session(app.engine) as session:
        return list(session.exec(select(model).order_by(model.id)).all())


def test_a_province_item_plays_in_each_communes_own_slot_and_counts_there(province, clock):
    ann = broadcast(province)
    due = {d.channel_id: d.due_at for d in rows(province, Delivery)}
    assert due == {"muong-la-loa": START.replace(hour=10), "it-ong-loa": START.replace(hour=10, minute=30)}
    with read_session(province.engine) as session:  # each commune sees it in its schedule
        for unit in ("muong-la", "it-ong"):
            listed = queries.schedule(session, since=START, until=START + timedelta(days=1), unit=unit)
            assert [r["ref"] for r in listed] == [f"{ann.ref_code}.{1 if unit == 'muong-la' else 2}"]
    with write_session(province.engine) as session, pytest.raises(RuleError, match="thuộc Tỉnh Sơn La"):
        announcements.cancel(session, ann=announcements.get(session, ann.id), actor="hoa", reason="", now=clock.now())
    broadcaster = province.broadcaster()
    for name, slot in due.items():
        clock.moment = slot
        run = broadcaster.play(name, slot)
        assert run.status == "playing" and [p["ref_code"] for p in run.parts] == [
            d.ref_code for d in rows(province, Delivery) if d.channel_id == name]
    clock.moment = max(due.values()) + timedelta(minutes=5)
    broadcaster.settle()
    assert {d.state for d in rows(province, Delivery)} == {S.DELIVERED}
    assert sorted(r.channel_id for r in rows(province, AsRun)) == sorted(LOUDSPEAKERS)  # each commune's as-run
    with read_session(province.engine) as session:
        week = evaluate(session, province.config, unit="muong-la", span=parse_period("2025-W36"), now=clock.now())
    loud = next(r for r in week.rows if r.key == "loudspeaker" and r.lang == "vi")
    assert loud.delivered == 1  # the commune's own loudspeaker target counts what played on its loudspeakers


def test_an_emergency_plays_at_once_in_every_chosen_commune(province, clock):
    broadcast(province, priority="emergency")
    province.broadcaster().run_due()
    runs = rows(province, AsRun)
    assert sorted((r.channel_id, r.kind) for r in runs) == [("it-ong-loa", "emergency"), ("muong-la-loa", "emergency")]
    assert {r.started_at for r in runs} == {START}


def test_a_commune_cannot_address_another_communes_loudspeaker(province):
    with write_session(province.engine) as session, pytest.raises(InputError, match="không thuộc đơn vị muong-la"):
        announcements.create(session, config=province.config, author="lan", now=province.now(), draft=Draft(
            title="Tin", body="Tin.", channels=["it-ong-loa"], next_slot=True))


def test_the_provinces_compose_form_offers_its_communes_loudspeakers(province):
    from tests.web import logged_in

    browser, _ = logged_in(province, "bientap", "mat-khau-dung-chung-2025")
    form = browser.get("/announcements/new").text
    assert 'value="it-ong-loa"' in form and 'value="muong-la-loa"' in form and 'value="son-la-website"' in form
    assert 'value="muong-la-website"' not in form  # a commune's website is the commune's own


def test_a_commune_account_reads_a_province_item_on_its_loudspeakers_by_command_too(province, settings):
    from tests.cli import invoke

    ann = broadcast(province)
    shown = invoke(settings, "show", str(ann.id), "--user", "hoa")
    assert shown.returncode == 0 and ann.title in shown.stdout, shown.stderr
    assert "it-ong-loa" in shown.stdout  # its own loudspeaker's delivery, and nothing of the other commune's
    assert "muong-la" not in shown.stdout and "Mường La" not in shown.stdout and "Đã phát ở" not in shown.stdout
    with write_session(province.engine) as session:
        own = announcements.create(session, config=province.config, author="bientap", now=province.now(),
                                   draft=Draft(unit="son-la", title="Tin riêng của tỉnh", body="Nội dung.",
                                               channels=["son-la-website"], languages=["vi"], next_slot=True))
    refused = invoke(settings, "show", str(own.id), "--user", "hoa")
    assert refused.returncode == 1 and own.title not in refused.stdout and "thuộc đơn vị khác" in refused.stderr


def test_the_province_sees_where_its_item_played_and_where_it_failed(province, clock):
    from tests.web import logged_in

    ann = broadcast(province)
    slot = START.replace(hour=10)  # Mường La's slot; Ít Ong's is at 10:30
    clock.moment = slot
    broadcaster = province.broadcaster()
    broadcaster.play("muong-la-loa", slot)
    clock.moment = slot + timedelta(minutes=5)
    broadcaster.settle()
    browser, _ = logged_in(province, "duyet", "mat-khau-dung-chung-2025")
    waiting = browser.get(f"/announcements/{ann.id}").text
    assert "Đã phát ở 1/2 xã" in waiting and "đang chờ ở 1 xã" in waiting
    with write_session(province.engine) as session:  # Ít Ong's slot did not play it: the player was down
        missed = session.exec(select(Delivery).where(Delivery.channel_id == "it-ong-loa")).one()
        missed.state, missed.last_error = S.FAILED, "máy phát của xã không trả lời"
        session.add(missed)
    page = browser.get(f"/announcements/{ann.id}").text
    assert "Đã phát ở 1/2 xã" in page and "không phát được ở 1 xã" in page
    reach = page[page.index("Nơi phát"):]
    assert reach.index("Xã Ít Ong") < reach.index("Xã Mường La")  # where it failed comes first
    assert "máy phát của xã không trả lời" in reach


def test_the_same_text_on_many_communes_loudspeakers_is_shown_once_for_review(province):
    from tests.web import logged_in

    ann = broadcast(province)
    browser, _ = logged_in(province, "duyet", "mat-khau-dung-chung-2025")
    page = browser.get(f"/announcements/{ann.id}").text
    shown = page[page.index("Nội dung sẽ đăng trên từng kênh"):page.index("<h2>Thẩm định")]
    assert shown.count("người dân nộp hồ sơ trực tuyến") == 1
    assert "Hệ thống truyền thanh xã Mường La và 1 kênh khác cùng nội dung" in shown
    assert "Hệ thống truyền thanh xã ít ong" in shown


def test_a_commune_s_simulation_plays_and_counts_the_province_item_on_its_loudspeakers(province):
    """The simulation copies a commune's deliveries with the items they belong to: the province's item too."""
    from datetime import date

    from scheduler.simulate import simulate

    broadcast(province)
    result = simulate(province.engine, province.config, unit="muong-la", first=date(2025, 9, 1),
                      last=date(2025, 9, 7))
    week = {(r.key, r.lang): r for r in result.compliance.rows if r.span.label == "2025-W36"}
    assert week[("loudspeaker", "vi")].delivered == 1  # the province's item, played in the commune's slot
