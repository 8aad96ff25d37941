"""Plan import: both seed plans (one typed, one scanned without diacritics) read to what a careful
reader wrote by hand in config/plans/, and a clear refusal for documents that are not plans."""

from __future__ import annotations

import tomllib
import unicodedata
from pathlib import Path

import pytest

from scheduler.config import PlanFile, load_config
from scheduler.errors import InputError
from scheduler.plans.plan_import import outline, propose, to_toml
from scheduler.settings import PROJECT_ROOT
from tests.cli import invoke as run  # in process: these test the command, not the entry point

PLANS = PROJECT_ROOT / "config" / "samples" / "plans"  # the two seed plans, as received
MUONG_LA = PLANS / "muong-la-2025-ban-quet.txt"  # scanned: no diacritics, OCR errors ("04 sd/thang", "¢)")
SON_LA = PLANS / "son-la-2025.txt"
FIELDS = ("clause", "channel", "minimum", "period", "languages", "topics")


def imported(path: Path, config, unit: str) -> PlanFile:
    proposal = propose(path.read_text(encoding="utf-8"), config=config, unit=unit)
    return PlanFile.model_validate(tomllib.loads(to_toml(proposal, plan_id=f"{unit}-import", unit=unit,
                                                         source=path.name)))


@pytest.mark.parametrize(("seed", "unit", "plan"), [(SON_LA, "son-la", "son-la-2025"),
                                                    (MUONG_LA, "muong-la", "muong-la-2025")])
def test_each_seed_imports_to_the_plan_a_careful_reader_wrote(config_dir, seed, unit, plan):
    config = load_config(config_dir)
    got, want = imported(seed, config, unit), config.plans[plan]
    assert got.year == 2025
    assert {code: t.clause for code, t in got.topics.items()} == {code: t.clause for code, t in want.topics.items()}
    if unit == "muong-la":  # no number in the text: the import assumes 01 and says so; the office confirmed 02
        assert got.targets["portal-articles"].minimum == 1 and "giả định" in got.targets["portal-articles"].note
        got.targets["portal-articles"].minimum = want.targets["portal-articles"].minimum
    assert {key: tuple(getattr(t, f) for f in FIELDS) for key, t in got.targets.items()} == \
           {key: tuple(getattr(t, f) for f in FIELDS) for key, t in want.targets.items()}
    assert all(got.targets[key].note for key in ("loudspeaker", "social"))  # chosen readings say so


def test_the_scanned_plan_gets_its_letters_from_the_outline():
    clauses = [b.clause for b in outline(MUONG_LA.read_text(encoding="utf-8"))]
    # "¢)" is c, the second "d)" is đ, "I1." is II and "I11." is III
    assert clauses[clauses.index("II.1"):clauses.index("II.2")] == [
        "II.1", "II.1.a", "II.1.b", "II.1.c", "II.1.d", "II.1.đ", "II.1.e", "II.1.g", "II.1.h"]
    assert "II.2.đ" in clauses and "III.2" in clauses and "IV.7" in clauses


def test_the_typed_plan_read_as_a_bad_scan_gives_the_same_targets(config_dir):
    config = load_config(config_dir)
    text = SON_LA.read_text(encoding="utf-8")
    for typed, misread in [("04 số/tháng", "04 sd/thang"), ("c) Tuyên truyền tình hình", "¢) Tuyen truyen"),
                           ("II. NỘI DUNG", "I1. NỘI DUNG"), ("III. KINH PHÍ", "I11. KINH PHÍ")]:
        assert typed in text
        text = text.replace(typed, misread)
    scanned = "".join(ch for ch in unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
                      if not unicodedata.combining(ch))  # what a scan without diacritics gives
    path = config_dir / "scan.txt"
    path.write_text(scanned, encoding="utf-8")
    got = imported(path, config, "son-la")
    want = config.plans["son-la-2025"]
    assert {k: (t.clause, t.minimum, t.period) for k, t in got.targets.items()} == \
           {k: (t.clause, t.minimum, t.period) for k, t in want.targets.items()}
    assert propose(scanned).notes  # says the text lost its diacritics


def test_a_monthly_item_without_a_number_is_at_least_one_and_says_it_was_assumed(config_dir):
    """"Hằng tháng, đăng tin, bài ..." gives no number: at least one, said as assumed. The province's "at least
    02 a month" is for the province's own portal (its item II.1.k): named, not taken over."""
    config = load_config(config_dir)
    text = MUONG_LA.read_text(encoding="utf-8")
    with_parent = propose(text, config=config, unit="muong-la").targets["portal-articles"]
    alone = propose(text).targets["portal-articles"]
    assert (with_parent["minimum"], alone["minimum"]) == (1, 1)
    assert with_parent["exclude_topics"] == ["ban-tin"]  # an issue of the bulletin is not also an article
    assert all("không ghi số lượng" in t["note"] and "giả định tối thiểu 01" in t["note"] for t in (with_parent, alone))
    assert "son-la-2025" in with_parent["note"] and "II.1.k" in with_parent["note"]


def test_a_document_that_is_not_a_plan_is_refused():
    with pytest.raises(InputError) as error:
        propose("Biên bản họp giao ban tháng 9.\nCác đồng chí dự họp đều có mặt.\n")
    assert error.value.exit_code == 2 and "II. NỘI DUNG, HÌNH THỨC" in str(error.value)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the command reads files only
def test_the_command_prints_the_proposal_and_never_overwrites(settings, tmp_path):
    out = tmp_path / "ml.toml"
    result = run(settings, "plan", "import", str(MUONG_LA), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert PlanFile.model_validate(tomllib.loads(out.read_text(encoding="utf-8"))).id == "muong-la-2025"
    assert "bulletin: [II.2.d] ít nhất 4 lượt mỗi tháng" in result.stderr and "mất dấu" in result.stderr
    again = run(settings, "plan", "import", str(MUONG_LA), "--out", str(out))
    assert again.returncode == 2 and "đã có" in again.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    refused = run(settings, "plan", "import", str(empty))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


def test_a_new_year_s_plan_is_copied_from_last_year_s_for_review(settings):
    from scheduler.config import load_config
    from tests.cli import invoke

    assert invoke(settings, "init", "--practice").returncode == 0
    missing = invoke(settings, "compliance", "--period", "2026-03")
    assert missing.returncode == 2 and "cchc plan new --year 2026 --from muong-la-2025" in missing.stderr
    made = invoke(settings, "plan", "new", "--year", "2026", "--from", "muong-la-2025")
    assert made.returncode == 0, made.stderr
    assert "Đã tạo kế hoạch muong-la-2026 (năm 2026) từ muong-la-2025: 9 nội dung, 5 chỉ tiêu" in made.stdout
    assert "cchc plan show --unit muong-la" in made.stdout  # the command to review it, as said, shows it
    shown = invoke(settings, "plan", "show", "--unit", "muong-la")
    assert shown.returncode == 0 and "(muong-la-2026)" in shown.stdout and "(muong-la-2025)" in shown.stdout
    config = load_config(settings.config_dir)
    old, new = config.plans["muong-la-2025"], config.plans["muong-la-2026"]
    assert (new.unit, new.year, new.issued, new.effective, new.decision) == ("muong-la", 2026, None, None, "")
    assert new.title.endswith("năm 2026") and new.targets == old.targets and new.topics.keys() == old.topics.keys()
    assert "ngày 01/4/2025" in new.topics["g"].text and "của xã năm 2026" in new.topics["g"].text
    assert invoke(settings, "compliance", "--period", "2026-03").returncode == 0
    again = invoke(settings, "plan", "new", "--year", "2026", "--from", "muong-la-2025", "--id", "khac-2026")
    assert again.returncode == 2 and "đã có kế hoạch năm 2026" in again.stderr
    unknown = invoke(settings, "plan", "new", "--year", "2027", "--from", "khong-co")
    assert unknown.returncode == 2 and "không có kế hoạch 'khong-co'" in unknown.stderr
    assert sorted(p.name for p in (settings.config_dir / "plans").glob("*.toml")) == [
        "muong-la-2025.toml", "muong-la-2026.toml", "son-la-2025.toml"]


def test_a_commune_gets_the_template_plan_of_another_and_all_communes_at_once(settings):
    from tests.helpers import add_commune

    add_commune(settings.config_dir)
    add_commune(settings.config_dir, "chieng-lao", "Xã Chiềng Lao", "CL")
    assert run(settings, "init").returncode == 0
    before = sorted(p.name for p in (settings.config_dir / "plans").iterdir())
    unknown = run(settings, "plan", "new", "--year", "2025", "--from", "muong-la-2025", "--unit", "it-ong",
                     "--unit", "khong-co")
    assert unknown.returncode == 2 and "không có đơn vị 'khong-co'" in unknown.stderr
    assert sorted(p.name for p in (settings.config_dir / "plans").iterdir()) == before  # none kept
    one = run(settings, "plan", "new", "--year", "2025", "--from", "muong-la-2025", "--unit", "it-ong")
    assert one.returncode == 0 and "Đã tạo kế hoạch it-ong-2025" in one.stdout, one.stderr
    plan = load_config(settings.config_dir).plans["it-ong-2025"]
    assert plan.unit == "it-ong" and plan.title.endswith("xã Ít Ong năm 2025") and "Mường La" not in plan.title
    every = run(settings, "plan", "new", "--year", "2025", "--from", "muong-la-2025", "--unit", "all")
    assert every.returncode == 0 and every.stdout.count("Đã tạo kế hoạch") == 1 and "chieng-lao-2025" in every.stdout


def test_a_plan_made_by_another_process_counts_in_the_running_service_without_a_restart(app):
    """The fault: ``cchc plan new`` (or ``unit import``) said the service used the change only after a
    restart. The service reads its configuration again when its files change (``App.refresh_config``)."""
    from scheduler.record.db import read_session
    from scheduler.record.models import Plan

    assert "muong-la-2026" not in app.config.plans and not app.refresh_config()  # nothing changed yet
    assert run(app.settings, "plan", "new", "--year", "2026", "--from", "muong-la-2025").returncode == 0
    assert app.refresh_config() and "muong-la-2026" in app.config.plans
    with read_session(app.engine) as session:
        assert session.get(Plan, "muong-la-2026").year == 2026  # in the catalogue the pages and counts read
    units = app.settings.config_dir / "units.toml"
    kept = units.read_text(encoding="utf-8")
    units.write_text(kept + "\n[units.hong]\nname = 1\n", encoding="utf-8")  # a broken edit
    assert not app.refresh_config() and "muong-la-2026" in app.config.plans  # the working one stays
    units.write_text(kept, encoding="utf-8")


def test_plans_and_proposals_read_in_vietnamese_not_codes(settings, tmp_path):
    """The fault: "ít nhất 4 / month trên website", "2/year trên  (vi)" with the channel blank."""
    import re

    assert run(settings, "init").returncode == 0
    shown = run(settings, "plan", "show").stdout
    proposed = run(settings, "plan", "import", str(PROJECT_ROOT / "config" / "samples" / "plans"
                                                    / "muong-la-2025-ban-quet.txt"), "--out", str(tmp_path / "p.toml"))
    for text in (shown, proposed.stderr):
        assert "ít nhất 4 lượt mỗi tháng trên trang thông tin điện tử (tiếng Việt" in text, text
        assert "ít nhất 2 lần mỗi năm: đối thoại với doanh nghiệp (tiếng Việt)" in text, text
        assert not re.search(r"/ ?(month|week|year)|trên (website|loudspeaker|social)|activity:|trên  ", text), text
    assert "config/plans/" not in proposed.stderr and str(settings.config_dir / "plans") in proposed.stderr
