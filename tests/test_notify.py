"""Email notices through a real SMTP server (aiosmtpd) that requires STARTTLS and a login."""

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlmodel import select

from scheduler import announcements, notify
from scheduler.clock import LOCAL_TZ
from scheduler.config import load_config
from scheduler.errors import ConfigError
from scheduler.outbox.holds import hold_channel
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Notice
from tests.helpers import queue
from tests.pg import _free_port

USER, PASSWORD = "cchc-mailer", "mat-khau-thu-gui-thu"



def certificate(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.muongla.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "mail.pem", folder / "mail.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def login(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
        (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def mail_server(tmp_path):
    cert, key = certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=login, auth_required=True, auth_require_tls=True)
    controller.start()
    yield inbox, port, cert
    controller.stop()


def write_notify(config_dir, port: int, cafile) -> None:
    (config_dir / "notify.toml").write_text(f"""
base_url = "https://cchc.muongla.test"

[smtp]
host = "127.0.0.1"
port = {port}
username_env = "CCHC_SMTP_USER"
password_env = "CCHC_SMTP_PASSWORD"
sender = "CCHC Mường La <cchc@muongla.test>"
cafile = "{cafile}"

[people]
lan = "lan@muongla.test"
hung = "hung@muongla.test"
mai = "mai@muongla.test"

[units.muong-la]
approvers = ["hung"]
head = ["mai"]
digest_at = "07:30"
""", encoding="utf-8")


@pytest.fixture
def mailing(config_dir, mail_server, monkeypatch):
    inbox, port, cert = mail_server
    write_notify(config_dir, port, cert)
    monkeypatch.setenv("CCHC_SMTP_USER", USER)
    monkeypatch.setenv("CCHC_SMTP_PASSWORD", PASSWORD)
    return inbox


def test_approvers_authors_and_the_head_are_told_by_mail(mailing, app, clock):
    inbox = mailing
    assert notify.run(app.engine, app.config, app.now()) == 0  # the first look marks the place: no old news
    ann = queue(app, title="Lịch tiếp công dân tháng 9")
    with write_session(app.engine) as session:
        announcements.submit(session, ann=announcements.get(session, ann.id), actor="lan", now=app.now())
    assert notify.run(app.engine, app.config, app.now()) == 1
    [waiting] = inbox.to("hung@muongla.test")
    assert waiting["Subject"] == "Tin chờ duyệt: Lịch tiếp công dân tháng 9"
    assert f"https://cchc.muongla.test/announcements/{ann.id}" in waiting.get_content()

    with write_session(app.engine) as session:
        announcements.reject(session, ann=announcements.get(session, ann.id), approver="hung",
                             reason="Thiếu giờ tiếp dân buổi chiều", now=app.now())
        hold_channel(session, "muong-la-facebook", "thông tin xác thực bị từ chối (401): token hết hạn", app.now())
    assert notify.run(app.engine, app.config, app.now()) == 2
    [returned] = inbox.to("lan@muongla.test")
    assert returned["Subject"].startswith("Tin bị trả lại")
    assert "Thiếu giờ tiếp dân buổi chiều" in returned.get_content()
    [held] = inbox.to("mai@muongla.test")
    assert "bị tạm dừng" in held["Subject"] and "https://cchc.muongla.test/channels" in held.get_content()
    assert notify.run(app.engine, app.config, app.now()) == 0 and len(inbox.messages) == 3  # each told once

    local = app.now().astimezone(LOCAL_TZ)
    clock.moment = (local.replace(hour=7, minute=31) + timedelta(days=1)).astimezone(dt.UTC)
    assert notify.run(app.engine, app.config, app.now()) == 1
    digest = inbox.to("mai@muongla.test")[-1]
    print(f"\n--- the digest as received ---\nFrom: {digest['From']}\nTo: {digest['To']}\n"
          f"Subject: {digest['Subject']}\n\n{digest.get_content()}")  # for the record (pytest -s)
    assert digest["Subject"].startswith("Tóm tắt ngày") and "Kênh đang tạm dừng: 1" in digest.get_content()
    assert "muong-la-facebook" in digest.get_content()
    assert notify.run(app.engine, app.config, app.now()) == 0  # one digest a day
    with read_session(app.engine) as session:
        kinds = sorted(n.kind for n in session.exec(select(Notice)) if n.status == "sent")
    assert kinds == ["approval", "channel_held", "digest", "rejected"]
    assert not any(PASSWORD in m.as_string() for m in inbox.messages)


def test_a_mail_server_that_is_down_delays_the_notice_and_it_goes_later(config_dir, mail_server, app, clock,
                                                                         monkeypatch):
    inbox, port, cert = mail_server
    write_notify(config_dir, _free_port(), cert)  # nothing listens there
    monkeypatch.setenv("CCHC_SMTP_USER", USER)
    monkeypatch.setenv("CCHC_SMTP_PASSWORD", PASSWORD)
    config = load_config(config_dir)
    notify.run(app.engine, config, app.now())
    ann = queue(app)
    with write_session(app.engine) as session:
        announcements.submit(session, ann=announcements.get(session, ann.id), actor="lan", now=app.now())
    assert notify.run(app.engine, config, app.now()) == 0  # no exception: dispatch and slots go on
    with read_session(app.engine) as session:
        [waiting] = session.exec(select(Notice)).all()
    assert waiting.status == "pending" and waiting.attempts == 1 and "ConnectionRefused" in waiting.last_error
    assert waiting.next_attempt_at == app.now() + notify.RETRY[0]

    write_notify(config_dir, port, cert)  # the mail server is back
    config = load_config(config_dir)
    assert notify.run(app.engine, config, app.now()) == 0  # not due yet
    clock.advance(timedelta(minutes=1))
    assert notify.run(app.engine, config, app.now()) == 1 and len(inbox.to("hung@muongla.test")) == 1


def test_notify_config_names_what_is_wrong(config_dir, tmp_path):
    write_notify(config_dir, 587, tmp_path / "ca.pem")
    text = (config_dir / "notify.toml").read_text(encoding="utf-8")
    (config_dir / "notify.toml").write_text(text.replace('head = ["mai"]', 'head = ["thu"]')
                                            .replace('digest_at = "07:30"', 'digest_at = "25:00"'), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    message = str(caught.value)
    assert "notify.toml" in message and "digest_at" in message
    (config_dir / "notify.toml").write_text(text.replace('head = ["mai"]', 'head = ["thu"]'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notify.toml:\d+: units.muong-la.head: 'thu' chưa có địa chỉ email"):
        load_config(config_dir)


def test_an_emergency_that_did_not_go_out_is_told_to_the_head_at_once(mailing, app, clock):
    from scheduler.outbox.deliveries import move
    from scheduler.record.models import Delivery
    from scheduler.record.models import DeliveryState as S
    from tests.helpers import approved

    inbox = mailing
    notify.run(app.engine, app.config, app.now())
    ann = approved(app, title="Cảnh báo lũ quét", priority="emergency", next_slot=True,
                   channels=["muong-la-website"])
    clock.advance(timedelta(minutes=1))
    with write_session(app.engine) as session:
        [d] = session.exec(select(Delivery).where(Delivery.announcement_id == ann.id)).all()
        move(d, S.SENDING, app.now())
        move(d, S.FAILED, app.now(), finished_at=app.now(), last_error="bị từ chối (400): nội dung quá dài")
    clock.advance(timedelta(seconds=30))
    # the head alone: the approver's notice that it waited was dropped, the item was approved before it went
    assert notify.run(app.engine, app.config, app.now()) == 1
    [alert] = inbox.to("mai@muongla.test")
    assert alert["Subject"].startswith("KHẨN") and "nội dung quá dài" in alert.get_content()


def test_staff_see_the_notices_with_cchc_notices(mailing, app):
    from tests.cli import invoke

    notify.run(app.engine, app.config, app.now())
    ann = queue(app, title="Tin cần duyệt")
    with write_session(app.engine) as session:
        announcements.submit(session, ann=announcements.get(session, ann.id), actor="lan", now=app.now())
    notify.run(app.engine, app.config, app.now())
    shown = invoke(app.settings, "notices")
    assert shown.returncode == 0, shown.stderr
    assert "gửi tới" in shown.stdout and "hung@muongla.test" in shown.stdout and "Tin chờ duyệt: Tin cần duyệt" in \
        shown.stdout and "đã gửi" in shown.stdout and "tin chờ duyệt" in shown.stdout


class Refusing(Inbox):
    """A mail server whose mailbox for one address is unavailable (550): every other mail goes in."""

    def __init__(self, refused: str):
        super().__init__()
        self.refused = refused

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def submitted(app, title):
    ann = queue(app, title=title, at=app.now() + timedelta(days=2))
    with write_session(app.engine) as session:
        announcements.submit(session, ann=announcements.get(session, ann.id), actor="lan", now=app.now())
    return ann


def test_a_line_break_in_a_subject_cannot_poison_the_notice_queue(mailing, app, clock):
    """A subject with CR LF (from a title stored before titles were made one line, or any other source) is sent
    with its line breaks made spaces: no header is added, and the notices around it go out once each."""
    inbox = mailing
    notify.run(app.engine, app.config, app.now())
    submitted(app, "Tin thứ nhất")
    notify.run(app.engine, app.config, app.now())
    inbox.messages.clear()
    with write_session(app.engine) as session:
        session.add(Notice(key="event:old", unit_id="muong-la", kind="approval", recipient="hung@muongla.test",
                           subject="Tin chờ duyệt: Tin\r\nBcc: x@example.org", body="Nội dung.",
                           next_attempt_at=app.now(), created_at=app.now()))
    submitted(app, "Tin thứ ba")
    for _ in range(4):  # two minutes of the service's notice job
        notify.run(app.engine, app.config, app.now())
        clock.advance(timedelta(seconds=30))
    subjects = sorted(m["Subject"] for m in inbox.messages)
    assert subjects == ["Tin chờ duyệt: Tin Bcc: x@example.org", "Tin chờ duyệt: Tin thứ ba"]
    assert not any(m["Bcc"] for m in inbox.messages)
    with read_session(app.engine) as session:
        assert {n.status for n in session.exec(select(Notice))} == {"sent"}


def test_a_mailbox_that_refuses_fails_alone_once_and_the_others_go_out(config_dir, tmp_path, app, clock,
                                                                      monkeypatch):
    cert, key = certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Refusing("hung@muongla.test"), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=login, auth_required=True, auth_require_tls=True)
    controller.start()
    try:
        write_notify(config_dir, port, cert)
        (config_dir / "notify.toml").write_text((config_dir / "notify.toml").read_text(encoding="utf-8")
                                                .replace('approvers = ["hung"]', 'approvers = ["hung", "mai"]'),
                                                encoding="utf-8")
        monkeypatch.setenv("CCHC_SMTP_USER", USER)
        monkeypatch.setenv("CCHC_SMTP_PASSWORD", PASSWORD)
        config = load_config(config_dir)
        notify.run(app.engine, config, app.now())
        submitted(app, "Tin thứ nhất")
        submitted(app, "Tin thứ hai")
        for _ in range(6):
            notify.run(app.engine, config, app.now())
            clock.advance(timedelta(minutes=30))
    finally:
        controller.stop()
    assert sorted(m["Subject"] for m in inbox.to("mai@muongla.test") if "duyệt" in m["Subject"]) == [
        "Tin chờ duyệt: Tin thứ hai", "Tin chờ duyệt: Tin thứ nhất"]
    with read_session(app.engine) as session:
        refused = session.exec(select(Notice).where(Notice.recipient == "hung@muongla.test")).all()
    assert [(n.status, n.attempts) for n in refused] == [("failed", 1), ("failed", 1)]
    assert "550" in refused[0].last_error and "mailbox unavailable" in refused[0].last_error


def test_a_mail_server_down_for_hours_delays_the_notice_until_it_returns(config_dir, mail_server, app, clock,
                                                                         monkeypatch):
    from tests.web import add_staff, logged_in

    inbox, port, cert = mail_server
    write_notify(config_dir, _free_port(), cert)  # nothing listens there: the mail server is down
    monkeypatch.setenv("CCHC_SMTP_USER", USER)
    monkeypatch.setenv("CCHC_SMTP_PASSWORD", PASSWORD)
    down = load_config(config_dir)
    notify.run(app.engine, down, app.now())
    waiting = submitted(app, "Tin chờ duyệt lâu")
    decided = submitted(app, "Tin được duyệt khi thư chưa gửi được")
    for _ in range(27):  # four and a half hours, the notice job every ten minutes
        notify.run(app.engine, down, app.now())
        clock.advance(timedelta(minutes=10))
    with write_session(app.engine) as session:
        announcements.approve(session, config=app.config, ann=announcements.get(session, decided.id),
                              approver="hung", now=app.now())
    notify.run(app.engine, down, app.now())
    add_staff(app)
    browser, _ = logged_in(app, "mai")
    page = browser.get("/").text
    assert "thư báo chưa gửi được" in page and "ConnectionRefused" in page
    write_notify(config_dir, port, cert)  # the server is back
    back = load_config(config_dir)
    clock.advance(timedelta(hours=1))
    notify.run(app.engine, back, app.now())  # the morning's digest to the head goes too
    [mail] = inbox.to("hung@muongla.test")
    assert mail["Subject"] == f"Tin chờ duyệt: {waiting.title}"
    with read_session(app.engine) as session:
        rows = {n.subject: n for n in session.exec(select(Notice))}
    dropped = rows[f"Tin chờ duyệt: {decided.title}"]
    assert dropped.status == "dropped" and "đã được quyết định" in dropped.last_error


def test_a_notice_nobody_could_send_for_three_days_is_dropped_and_said(config_dir, mail_server, app, clock,
                                                                      monkeypatch):
    inbox, port, cert = mail_server
    write_notify(config_dir, _free_port(), cert)
    monkeypatch.setenv("CCHC_SMTP_USER", USER)
    monkeypatch.setenv("CCHC_SMTP_PASSWORD", PASSWORD)
    down = load_config(config_dir)
    notify.run(app.engine, down, app.now())
    submitted(app, "Tin chờ duyệt ba ngày")
    for _ in range(80):
        notify.run(app.engine, down, app.now())
        clock.advance(timedelta(hours=1))
    with read_session(app.engine) as session:
        [row] = session.exec(select(Notice).where(Notice.kind == "approval")).all()
    assert row.status == "dropped" and "quá 72 giờ" in row.last_error and row.attempts < 80
