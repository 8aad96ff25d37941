"""Announcements: validation, approval rules, content binding, expansion into deliveries."""

import threading
import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from scheduler import announcements
from scheduler.announcements import Draft
from scheduler.errors import ContentChangedError, InputError, RuleError
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Announcement, Approval, AuditEvent, Delivery, DeliveryState
from tests.helpers import approved, queue


def deliveries(app, ann_id):
    with read_session(app.engine) as session:
        return session.exec(select(Delivery).where(Delivery.announcement_id == ann_id)
                            .order_by(Delivery.due_at, Delivery.channel_id, Delivery.lang)).all()


def test_create_stores_nfc_and_gives_a_reference_code(app):
    decomposed = unicodedata.normalize("NFD", "Thông báo về cải cách hành chính")
    ann = queue(app, title=decomposed, body=decomposed)
    assert ann.body == unicodedata.normalize("NFC", decomposed) and ann.body != decomposed
    assert ann.ref_code == f"ML-2025-{ann.id:04d}"
    assert ann.status == "draft"


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"body": "   "}, "--body", "trống"),
    ({"body": "x" * 200_000}, "--body", "quá dài"),
    ({"channels": ["facebook-xyz"]}, "--channel", "không có kênh"),
    ({"channels": ["son-la-website"]}, "--channel", "không thuộc đơn vị"),
    ({"languages": ["th"]}, "--lang", "blt"),
    ({"languages": ["fr"]}, "--lang", "không được hỗ trợ"),
    ({"languages": ["vi", "hmn"], "channels": ["muong-la-webhook"]}, "--lang", "không kênh nào"),
    ({"topics": ["z"]}, "--topic", "không có mục"),
    ({"priority": "urgent"}, "--priority", "emergency"),
])
def test_bad_input_names_the_field(app, fields, field, words):
    with pytest.raises(InputError) as raised:
        queue(app, **fields)
    assert raised.value.field == field and words in str(raised.value)


def test_time_in_the_past_is_refused(app):
    with pytest.raises(InputError, match="đã qua"):
        queue(app, at=app.now() - timedelta(minutes=1))


def test_approval_needs_another_person_than_author_and_translators(app):
    ann = queue(app, author="lan", languages=["vi", "blt"])
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        with pytest.raises(RuleError, match="thiếu bản dịch"):
            announcements.submit(session, ann=ann, actor="lan", now=app.now())
        announcements.translate(session, ann=ann, lang="blt", title=None, body="ꪀꪱꪙ ꪻꪊ", audio=None,
                                recordings=app.settings.data_dir, translator="lo.van.a", now=app.now())
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        for person in ("lan", "lo.van.a"):
            with pytest.raises(RuleError, match="không được tự phê duyệt"):
                announcements.approve(session, config=app.config, ann=ann, approver=person, now=app.now())
        created = announcements.approve(session, config=app.config, ann=ann, approver="hung", now=app.now())
    assert sorted(d.lang for d in created) == ["blt", "vi"]


def test_only_submitted_items_can_be_approved_or_rejected(app):
    ann = queue(app)
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        with pytest.raises(RuleError, match="đã gửi duyệt"):
            announcements.approve(session, config=app.config, ann=ann, approver="hung", now=app.now())
        with pytest.raises(RuleError):
            announcements.reject(session, ann=ann, approver="hung", reason="x", now=app.now())


def test_reject_needs_a_reason_and_can_be_resubmitted(app):
    ann = queue(app)
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        with pytest.raises(InputError, match="--reason"):
            announcements.reject(session, ann=ann, approver="hung", reason=" ", now=app.now())
        announcements.reject(session, ann=ann, approver="hung", reason="Sai số liệu", now=app.now())
        assert ann.status == "rejected"
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        assert ann.status == "submitted"


def test_approval_is_bound_to_the_content_hash(app):
    ann = approved(app)
    with read_session(app.engine) as session:
        stored = announcements.get(session, ann.id)
        approval = session.exec(select(Approval).where(Approval.announcement_id == ann.id)).one()
        assert approval.content_hash == announcements.content_hash(session, stored)
    assert {d.content_hash for d in deliveries(app, ann.id)} == {approval.content_hash}


def test_edit_voids_the_approval_and_cancels_unsent_deliveries(app):
    ann = approved(app)
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        before = announcements.content_hash(session, ann)
        notes = announcements.edit(session, config=app.config, ann=ann, draft=Draft(body="Nội dung đã sửa."),
                                   actor="lan", now=app.now())
        assert announcements.content_hash(session, ann) != before
        assert announcements.current_approval(session, ann) is None
    assert ann.status == "draft" and any("hết hiệu lực" in n for n in notes)
    assert {d.state for d in deliveries(app, ann.id)} == {DeliveryState.CANCELLED}


def test_expansion_is_channel_times_language_times_occurrence(repeating_website, app):
    start = datetime(2025, 9, 2, 6, 0, tzinfo=UTC) - timedelta(hours=7)  # 06:00 local, 2 Sept
    ann = approved(app, at=start, repeat="daily", until=date(2025, 9, 4),
                   channels=["muong-la-website", "muong-la-webhook"], languages=["vi", "blt"],
                   translations={"blt": "ꪀꪱꪙ ꪻꪊ ꪣꪱꪥ"})
    rows = deliveries(app, ann.id)
    # the website (set to repeat) speaks vi+blt: 2 a day x 3 days; the webhook only vi, and posts once
    assert len(rows) == 7
    assert sorted({d.due_at for d in rows}) == [start + timedelta(days=k) for k in range(3)]
    assert [d.due_at for d in rows if d.channel_id == "muong-la-webhook"] == [start]
    assert len({d.ref_code for d in rows}) == 7


def test_weekly_repeat_and_channel_grace_sets_expiry(repeating_website, app):
    first = app.now() + timedelta(days=1)
    ann = approved(app, at=first, repeat="weekly", until=(first + timedelta(days=20)).date())
    rows = deliveries(app, ann.id)
    assert [d.due_at for d in rows] == [first + timedelta(weeks=k) for k in range(3)]
    assert all(d.expires_at == d.due_at + timedelta(minutes=1440) for d in rows)


def test_expiry_of_the_announcement_caps_each_delivery(app):
    first = app.now() + timedelta(hours=2)
    ann = approved(app, at=first, expires_at=first + timedelta(minutes=30))
    assert [d.expires_at for d in deliveries(app, ann.id)] == [first + timedelta(minutes=30)]


def test_next_slot_uses_the_units_slots_and_emergency_goes_now(app):
    ann = approved(app, next_slot=True)  # 07:00 local now: next slot is 17:00 today
    assert deliveries(app, ann.id)[0].due_at == datetime(2025, 9, 1, 10, 0, tzinfo=UTC)
    urgent = approved(app, next_slot=True, priority="emergency")
    row = deliveries(app, urgent.id)[0]
    assert row.due_at == app.now() and row.priority_rank == 0


def test_cancel_stops_what_has_not_gone_out(app):
    ann = approved(app)
    with write_session(app.engine) as session:
        count = announcements.cancel(session, ann=announcements.get(session, ann.id), actor="hung",
                                     reason="trùng lịch", now=app.now())
        with pytest.raises(RuleError, match="đã bị hủy"):
            announcements.edit(session, config=app.config, ann=announcements.get(session, ann.id),
                               draft=Draft(title="x"), actor="lan", now=app.now())
    assert count == 1 and deliveries(app, ann.id)[0].state == DeliveryState.CANCELLED


def test_every_action_is_in_the_audit_trail(app):
    ann = approved(app)
    with read_session(app.engine) as session:
        actions = [(e.actor, e.action) for e in session.exec(
            select(AuditEvent).where(AuditEvent.subject == f"announcement:{ann.id}").order_by(AuditEvent.id))]
        assert session.get(Announcement, ann.id).status == "approved"
    assert actions == [("lan", "create"), ("lan", "submit"), ("hung", "approve")]


def test_whoever_edits_or_translates_becomes_a_writer_and_cannot_approve(app):
    ann = queue(app, author="lan", languages=["vi", "blt"])
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        announcements.translate(session, ann=ann, lang="blt", title=None, body="ꪀꪱꪙ ꪻꪊ", audio=None,
                                recordings=app.settings.data_dir, translator="lo.van.a", now=app.now())
        announcements.translate(session, ann=ann, lang="blt", title=None, body="ꪀꪱꪙ ꪻꪊ ꪣꪱꪥ", audio=None,
                                recordings=app.settings.data_dir, translator="mai", now=app.now())
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        # hung, an approver, corrects a colleague's submitted text and sends it back for review
        announcements.edit(session, config=app.config, ann=ann, draft=Draft(body="Nội dung hung đã sửa."),
                           actor="hung", now=app.now())
        announcements.submit(session, ann=ann, actor="hung", now=app.now())
        for person in ("hung", "lan", "lo.van.a", "mai"):  # lo.van.a's translation was replaced: still a writer
            with pytest.raises(RuleError, match="không được tự phê duyệt"):
                announcements.approve(session, config=app.config, ann=ann, approver=person, now=app.now())
        assert announcements.writers(session, ann) == {"lan", "lo.van.a", "mai", "hung"}
        assert announcements.approve(session, config=app.config, ann=ann, approver="thu", now=app.now())


def test_saving_without_a_change_does_not_make_a_writer(app):
    ann = queue(app, author="lan")
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        announcements.edit(session, config=app.config, ann=ann, draft=Draft(title=ann.title), actor="hung",
                           now=app.now())
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        assert announcements.approve(session, config=app.config, ann=ann, approver="hung", now=app.now())


def test_the_approver_approves_the_version_they_read_or_nothing(app):
    ann = queue(app, author="lan")
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        shown = announcements.content_hash(session, ann)
    with write_session(app.engine) as session:  # meanwhile lan changes the text and sends it again
        ann = announcements.get(session, ann.id)
        announcements.edit(session, config=app.config, ann=ann, draft=Draft(body="Số liệu mới."), actor="lan",
                           now=app.now())
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        current = announcements.content_hash(session, ann)
    with write_session(app.engine) as session, pytest.raises(ContentChangedError, match="đã thay đổi") as refused:
        announcements.approve(session, config=app.config, ann=announcements.get(session, ann.id), approver="hung",
                              now=app.now(), shown_hash=shown)
    assert refused.value.current_hash == current
    with read_session(app.engine) as session:
        assert session.get(Announcement, ann.id).status == "submitted"
        assert session.exec(select(Approval).where(Approval.announcement_id == ann.id)).all() == []
    with write_session(app.engine) as session:
        made = announcements.approve(session, config=app.config, ann=announcements.get(session, ann.id),
                                     approver="hung", now=app.now(), shown_hash=current.upper())
    assert made and {d.content_hash for d in made} == {current}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_approvals_at_once_give_one_approval_and_one_clear_refusal(app):
    ann = queue(app, author="lan")
    with write_session(app.engine) as session:
        announcements.submit(session, ann=announcements.get(session, ann.id), actor="lan", now=app.now())
    both_read = threading.Barrier(2, timeout=20)
    results: dict[str, object] = {}

    def approver(name: str) -> None:
        try:
            with write_session(app.engine) as session:
                found = announcements.get(session, ann.id)  # both have read "submitted" ...
                both_read.wait()
                results[name] = len(announcements.approve(session, config=app.config, ann=found, approver=name,
                                                          now=app.now()))  # ... and both press "approve"
        except Exception as exc:  # noqa: BLE001 - the test inspects what each one got
            results[name] = exc

    threads = [threading.Thread(target=approver, args=(name,)) for name in ("hung", "mai")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    refusals = [r for r in results.values() if isinstance(r, Exception)]
    assert sorted(map(type, refusals), key=str) == [RuleError] and [r for r in results.values() if r == 1] == [1]
    assert "đã được phê duyệt bởi" in str(refusals[0])
    with read_session(app.engine) as session:
        assert len(session.exec(select(Approval).where(Approval.announcement_id == ann.id)).all()) == 1
        assert len(session.exec(select(Delivery).where(Delivery.announcement_id == ann.id)).all()) == 1


def test_a_repeat_plays_again_on_the_loudspeaker_but_posts_once_online(app):
    first = datetime(2025, 9, 2, 10, 0, tzinfo=UTC)  # 17:00 in Vietnam, a slot
    ann = approved(app, at=first, repeat="daily", until=date(2025, 9, 6),
                   channels=["muong-la-website", "muong-la-facebook", "muong-la-loa"])
    rows = deliveries(app, ann.id)
    by_channel = {name: [d.due_at for d in rows if d.channel_id == name] for name in
                  ("muong-la-website", "muong-la-facebook", "muong-la-loa")}
    assert by_channel == {"muong-la-website": [first], "muong-la-facebook": [first],
                          "muong-la-loa": [first + timedelta(days=k) for k in range(5)]}
    with write_session(app.engine) as session:  # edited and approved again: the website still has it once
        found = announcements.get(session, ann.id)
        announcements.edit(session, config=app.config, ann=found, draft=Draft(title="Tiêu đề sửa"), actor="lan",
                           now=app.now())
        announcements.submit(session, ann=found, actor="lan", now=app.now())
        announcements.approve(session, config=app.config, ann=found, approver="hung", now=app.now())
    live = [d for d in deliveries(app, ann.id) if d.state == DeliveryState.PENDING]
    assert sorted(d.channel_id for d in live).count("muong-la-website") == 1


def test_a_title_is_one_line_whatever_was_typed_or_pasted(app):
    from tests.cli import invoke

    made = invoke(app.settings, "queue", "--user", "lan", "--title", "Tin\r\nBcc: x@example.org\tmới",
                  "--body", "Nội dung\nhai dòng.", "--channel", "muong-la-website", "--next-slot")
    assert made.returncode == 0, made.stderr
    with read_session(app.engine) as session:
        ann = session.get(Announcement, int(made.stdout))
    assert ann.title == "Tin Bcc: x@example.org mới" and ann.body == "Nội dung\nhai dòng."  # a body keeps its lines
