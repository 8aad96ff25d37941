"""The province's view and report: every commune judged by its own plan, the same figures as its own
dashboard, a commune without a plan shown as such; the page for province accounts only; the exports
and the roll-up in the province's report."""

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from scheduler.plans import province, report
from scheduler.plans.compliance import Status, evaluate, evaluate_many
from scheduler.plans.periods import parse_period
from scheduler.record import users
from scheduler.record.db import read_session, write_session
from tests.helpers import add_commune, approved, dispatch, make_app
from tests.web import logged_in

PASSWORD = "mat-khau-dung-chung-2025"


@pytest.fixture
def communes(config_dir, settings, clock):
    """Mường La with two articles out in September 2025, Ít Ong with the same plan and nothing out,
    Chiềng Lao with no plan at all; a province approver and a commune approver."""
    add_commune(config_dir)
    add_commune(config_dir, "chieng-lao", "Xã Chiềng Lao", "CL")
    plan = (config_dir / "plans" / "muong-la-2025.toml").read_text(encoding="utf-8")
    (config_dir / "plans" / "it-ong-2025.toml").write_text(
        plan.replace('id = "muong-la-2025"', 'id = "it-ong-2025"').replace('unit = "muong-la"', 'unit = "it-ong"'),
        encoding="utf-8")
    app = make_app(settings, clock)
    with write_session(app.engine) as session:
        for name, unit in (("tinh", "son-la"), ("hoa", "it-ong")):
            users.add_user(session, name=name, role="approver", password=PASSWORD, unit=unit, actor="test",
                           now=app.now())
    for hours in (1, 2):
        approved(app, title=f"Tin CCHC số {hours}", topics=["a"], at=app.now() + timedelta(hours=hours))
    dispatch(app, clock, app.now() + timedelta(hours=3))
    yield app
    app.engine.dispose()


def test_many_communes_at_once_count_exactly_as_each_commune_alone(communes):
    span, now = parse_period("2025-Q3"), communes.now()
    with read_session(communes.engine) as session:
        together = evaluate_many(session, communes.config, units=["muong-la", "it-ong", "chieng-lao"], span=span,
                                 now=now, coverage=False)
        for unit in ("muong-la", "it-ong"):
            alone = evaluate(session, communes.config, unit=unit, span=span, now=now, coverage=False)
            assert [r.as_dict() for r in together[unit].rows] == [r.as_dict() for r in alone.rows]
    assert "chưa có kế hoạch" in str(together["chieng-lao"])
    articles = {r.span.label: r.delivered for r in together["muong-la"].rows if r.key == "portal-articles"}
    assert articles["2025-09"] == 2 and articles["2025-07"] == 0


def test_the_view_judges_each_commune_and_sorts_the_worst_first(communes, clock):
    clock.moment = clock.moment.replace(month=10, day=2)  # September is over
    with read_session(communes.engine) as session:
        view = province.gather(session, communes.config, province="son-la", span=parse_period("2025-09"),
                               now=communes.now())
    by_unit = {c.unit: c for c in view.communes}
    assert set(by_unit) == {"muong-la", "it-ong", "chieng-lao"}
    assert by_unit["muong-la"].cells["portal-articles"].status == Status.MET
    assert by_unit["muong-la"].cells["portal-articles"].delivered == 2
    assert by_unit["it-ong"].cells["portal-articles"].status == Status.MISSED
    assert by_unit["it-ong"].cells["portal-articles"].delivered == 0
    assert by_unit["chieng-lao"].problem and not by_unit["chieng-lao"].cells  # never shown as met
    order = [c.unit for c in view.sorted("worst")]
    assert order[0] == "chieng-lao" and order.index("it-ong") < order.index("muong-la")
    assert view.totals("portal-articles") == {Status.MET: 1, Status.MISSED: 1}
    assert view.by_language == [{"lang": "tiếng Việt", "delivered": 2, "failed": 0}]
    assert {c.unit for c in view.missed} == {"it-ong", "muong-la"}  # Mường La missed its bulletin


def test_the_page_is_for_province_accounts_and_exports_the_same_table(communes):
    browser, _ = logged_in(communes, "tinh", PASSWORD)
    answer = browser.get("/province", params={"period": "2025-09"})
    assert answer.status_code == 200
    text = answer.text
    assert "Xã Mường La" in text and "Xã Ít Ong" in text and "chưa có kế hoạch" in text
    assert 'class="status met"' in text or 'class="status on_track"' in text
    assert "2/2" in text  # Mường La's articles: done / required
    sheet = load_workbook(io.BytesIO(browser.get("/province/export", params={"period": "2025-09"}).content))
    assert sheet.sheetnames == ["Tổng hợp", "Chi tiết", "Theo kênh"]
    names = [row[0].value for row in sheet["Tổng hợp"].iter_rows(min_row=3)]
    assert set(names) == {"Xã Mường La", "Xã Ít Ong", "Xã Chiềng Lao"}
    csv = browser.get("/province/export", params={"period": "2025-09", "fmt": "csv"})
    assert csv.text.startswith("\ufeffĐơn vị,Chỉ tiêu") and "Xã Ít Ong" in csv.text
    commune, _ = logged_in(communes, "hoa", PASSWORD)
    refused = commune.get("/province")
    assert refused.status_code == 403 and "tài khoản cấp tỉnh" in refused.text
    assert 'href="/province"' not in commune.get("/").text


def test_the_page_offers_the_half_year_and_the_year_the_province_reports_on(communes):
    """The seeds require roll-ups every 6 months and every year: the picker offers them, and they open."""
    import re

    browser, _ = logged_in(communes, "tinh", PASSWORD)
    offered = re.findall(r'<option value="([^"]+)"', browser.get("/province").text)
    assert {"2025", "2025-H2", "2025-H1", "2025-Q3", "2025-09"} <= set(offered), offered
    for period in ("2025-H2", "2025"):
        answer = browser.get("/province", params={"period": period})
        assert answer.status_code == 200 and "Xã Mường La" in answer.text
        assert browser.get("/province/export", params={"period": period}).status_code == 200


def test_the_provinces_report_rolls_up_its_communes(communes, tmp_path):
    with read_session(communes.engine) as session:
        data = report.gather(session, communes.config, unit="son-la", span=parse_period("2025-Q3"),
                             now=communes.now())
    titles = [t[0] for t in report.tables(data)]
    numbers = {key: n for n, key in enumerate(data.communes.targets, start=1)}
    assert f"Kết quả của các xã, chỉ tiêu {numbers['portal-articles']}: " + data.communes.targets["portal-articles"] \
        in titles
    assert titles[-1] == report.MISSED_TITLE
    book = load_workbook(report.write(data, "xlsx", tmp_path / "son-la.xlsx"))
    rows = [[c.value for c in row] for row in book[[n for n in book.sheetnames if "portal-articles" in n][0]]]
    assert rows[2][1:3] == ["Xã Ít Ong", 0] and rows[3][1:3] == ["Xã Mường La", 2]  # Vietnamese order
    assert rows[-1][1].startswith("Cộng 2 đơn vị") and rows[-1][2] == 2
    missed = [[c.value for c in row] for row in book["Xã chưa đạt"]]
    assert any(r[0] == "Xã Chiềng Lao" and "chưa có kế hoạch" in r[1] for r in missed[2:])
    # a missed target is named by its number, not its whole description again for every commune
    said = next(r[1] for r in missed[2:] if r[0] == "Xã Mường La")
    assert said.startswith("chỉ tiêu ") and str(numbers["bulletin"]) in said.split(" ", 2)[2].split(", ")
    assert not any(description in said for description in data.communes.targets.values())
    docx = report.write(data, "docx", tmp_path / "son-la.docx")
    from docx import Document

    text = "\n".join(p.text for p in Document(docx).paragraphs)
    assert "CÁC XÃ CHƯA ĐẠT CHỈ TIÊU" in text and "X." in text
    assert ", Ủy ban nhân dân tỉnh Sơn La báo cáo kết quả" in text  # the body that signs it, not "Tỉnh Sơn La"
    assert "của Ủy ban nhân dân tỉnh Sơn La./." in text
    with read_session(communes.engine) as session:  # a commune's report is as it was
        own = report.gather(session, communes.config, unit="muong-la", span=parse_period("2025-Q3"),
                            now=communes.now())
    assert own.communes is None and len(report.tables(own)) == 7


def test_in_a_year_without_plans_the_page_opens_on_the_last_year_with_one_and_counts_the_communes_without(communes,
                                                                                                          clock):
    """The fault: at the real date (2026) every commune was a long red banner naming a command, the summary
    said "0 đơn vị có chỉ tiêu không đạt", and the picker offered 2026 only."""
    import re
    from datetime import UTC, datetime

    clock.moment = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    browser, _ = logged_in(communes, "tinh", PASSWORD)
    text = browser.get("/province").text
    offered = re.findall(r'<option value="(\d{4}[^"]*)"', text)
    assert offered[0] == "2025-Q4" and "2025-09" in offered and not [o for o in offered if o.startswith("2026")]
    assert "quý IV năm 2025" in text and "1 xã chưa có kế hoạch" in text and "cchc" not in text
