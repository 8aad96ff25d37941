"""Units in bulk: ``cchc unit import FILE.csv`` checks every row with its line number, writes nothing
while any row is wrong, and adds or updates units and their default channels, keeping the comments."""

import json
from pathlib import Path

from scheduler.config import load_config
from scheduler.settings import PROJECT_ROOT
from tests.cli import invoke, snapshot

HEADER = "code,name,level,parent,slots,station_name\n"


def ready(settings):
    assert invoke(settings, "init").returncode == 0
    return settings


def files(settings) -> tuple[str, str]:
    return tuple((settings.config_dir / name).read_text(encoding="utf-8") for name in ("units.toml", "channels.toml"))


def test_every_bad_row_is_named_by_its_line_and_nothing_is_stored(settings, tmp_path):
    ready(settings)
    sheet = tmp_path / "don-vi.csv"
    sheet.write_text("# ghi chú của văn thư\n" + HEADER
                     + "it-ong,Xã Ít Ong,commune,son-la,06:30;17:30,\n"
                     + "chieng-lao,Xã Chiềng Lao,commune,tinh-khac,06:00,\n"  # line 4: unknown parent
                     + "it-ong,Xã Ít Ong 2,commune,son-la,06:00,\n"  # line 5: duplicate code
                     + "muong-bu,Xã Mường Bú,commune,son-la,25:00;17:00,\n"  # line 6: no such time
                     + "Ngọc Chiến,Xã Ngọc Chiến,huyện,son-la,,\n", encoding="utf-8")  # line 7: code and level
    before, rows = files(settings), snapshot(settings.url)
    result = invoke(settings, "unit", "import", str(sheet))
    assert result.returncode == 2, result.stderr
    errors = result.stderr
    assert "dòng 4: không có đơn vị cấp trên 'tinh-khac'" in errors
    assert "dòng 5: mã 'it-ong' trùng với dòng 3" in errors
    assert "dòng 6: khung giờ '25:00' phải có dạng HH:MM" in errors
    assert "dòng 7: mã 'Ngọc Chiến' cần 1–40 chữ thường" in errors and "dòng 7: cấp 'huyện' không hợp lệ" in errors
    assert "chưa ghi gì" in errors and "Traceback" not in errors
    assert files(settings) == before and snapshot(settings.url) == rows


def test_a_missing_column_and_a_commune_without_parent_are_refused(settings, tmp_path):
    ready(settings)
    sheet = tmp_path / "thieu.csv"
    sheet.write_text("code,name\nit-ong,Xã Ít Ong\n", encoding="utf-8")
    result = invoke(settings, "unit", "import", str(sheet))
    assert result.returncode == 2 and "thiếu cột level" in result.stderr
    sheet.write_text(HEADER + "it-ong,Xã Ít Ong,xã,,06:00,\n", encoding="utf-8")
    result = invoke(settings, "unit", "import", str(sheet))
    assert result.returncode == 2 and "dòng 2: xã 'it-ong' cần đơn vị cấp trên" in result.stderr


def test_the_sample_province_imports_with_default_channels_and_again_changes_nothing(settings):
    ready(settings)
    comments = files(settings)[0].splitlines()[0]
    sample = PROJECT_ROOT / "config" / "samples" / "don-vi-son-la.csv"
    dry = invoke(settings, "unit", "import", str(sample), "--dry-run")
    assert dry.returncode == 0 and "76 đơn vị (74 mới, 2 đã có)" in dry.stdout
    done = invoke(settings, "unit", "import", str(sample))
    assert done.returncode == 0, done.stderr
    config = load_config(settings.config_dir)
    communes = [uid for uid, u in config.units.items() if u.parent == "son-la"]
    assert len(communes) == 75 and files(settings)[0].splitlines()[0] == comments  # the staff's notes stay
    assert config.units["it-ong"].ref_prefix == "IO" and config.units["muong-la"].ref_prefix == "ML"
    assert len({u.ref_prefix for u in config.units.values()}) == len(config.units)  # ref codes never collide
    loa = config.channels["it-ong-loa"]
    assert loa.kind == "loudspeaker" and loa.unit == "it-ong" and loa.settings["slots"] == ["06:30", "17:30"]
    assert config.channels["it-ong-website"].kind == "website"
    assert config.channels_of("muong-la").keys() == load_config(PROJECT_ROOT / "config").channels_of("muong-la").keys()
    units = json.loads(invoke(settings, "unit", "list", "--json").stdout)
    assert len(units) == 76
    # The database has them at once: an account of the new commune can be made.
    added = invoke(settings, "user", "add", "tuan", "--role", "editor", "--unit", "it-ong", "--password-stdin",
                   input_text="mat-khau-cua-Tuan-2025\n")
    assert added.returncode == 0 and "Xã Ít Ong" in added.stdout
    before = files(settings)
    again = invoke(settings, "unit", "import", str(sample))
    assert again.returncode == 0 and "0 thay đổi" in again.stdout and files(settings) == before


def test_new_slots_for_a_commune_move_its_loudspeaker(settings, tmp_path):
    ready(settings)
    sheet = tmp_path / "gio-moi.csv"
    sheet.write_text(HEADER + "muong-la,Xã Mường La,commune,son-la,05:45;18:15,Đài truyền thanh xã Mường La\n",
                     encoding="utf-8")
    result = invoke(settings, "unit", "import", str(sheet))
    assert result.returncode == 0 and "kênh muong-la-loa: khung giờ 05:45, 18:15" in result.stdout
    config = load_config(settings.config_dir)
    assert config.units["muong-la"].slots == ["05:45", "18:15"]
    assert config.channels["muong-la-loa"].settings["slots"] == ["05:45", "18:15"]


def test_a_configuration_it_may_not_write_is_said_plainly_and_both_files_stay(settings, tmp_path, monkeypatch):
    ready(settings)
    sheet = tmp_path / "don-vi.csv"
    sheet.write_text(HEADER + "it-ong,Xã Ít Ong,commune,son-la,06:30;17:30,\n", encoding="utf-8")
    before = files(settings)
    real = Path.write_text

    def refuse(self, *args, **kwargs):  # the server's /etc/cchc/config is root's: the service user may not write
        if self.name == "channels.toml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", refuse)
    result = invoke(settings, "unit", "import", str(sheet))
    monkeypatch.undo()
    assert result.returncode == 1 and "không có quyền ghi" in result.stderr and "channels.toml" in result.stderr
    assert "Traceback" not in result.stderr and files(settings) == before  # units.toml was put back


def test_the_readme_tour_on_the_embedded_default_leaves_the_projects_files_as_they_are(tmp_path):
    """The fault: without CCHC_CONFIG_DIR (scripts/start.sh, the README's tours), ``unit import`` and
    ``plan new`` rewrote the tracked files in config/, and the tests then failed on them. The install's own
    configuration is now a copy in the data folder, made from config/ the first time."""
    import hashlib
    import os
    import subprocess

    from tests.cli import CCHC

    def tracked() -> dict[str, str]:
        return {str(p.relative_to(PROJECT_ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((PROJECT_ROOT / "config").rglob("*")) if p.is_file()}

    before = tracked()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")} | {"CCHC_DATA_DIR": str(tmp_path)}
    sample = str(PROJECT_ROOT / "config" / "samples" / "don-vi-son-la.csv")
    for args in (["init"], ["unit", "import", sample], ["plan", "new", "--year", "2026", "--from", "muong-la-2025"]):
        done = subprocess.run([CCHC, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    assert tracked() == before
    own = load_config(tmp_path / "config")
    assert "it-ong" in own.units and any(plan.year == 2026 for plan in own.plans.values())


def test_the_provinces_administrator_imports_units_from_the_web(staff):
    """Units by CSV upload on the page Đơn vị: checked first, written on confirmation, in use at once; a file
    in another encoding is explained; a commune's administrator may not."""
    from scheduler.record import users
    from scheduler.record.db import write_session
    from tests.web import logged_in

    with write_session(staff.engine) as session:
        users.add_user(session, name="quantri", role="admin", password="Mat-khau-quan-tri-2026", unit="son-la",
                       actor="test", now=staff.now())
    admin, csrf = logged_in(staff, "quantri", "Mat-khau-quan-tri-2026")
    page = admin.get("/units").text
    assert "Xã Mường La" in page and 'action="/units/import"' in page
    sheet = (PROJECT_ROOT / "config" / "samples" / "don-vi-son-la.csv").read_bytes()
    before = files(staff.settings)
    checked = admin.post("/units/import", data={"csrf": csrf, "dry_run": "1"},
                         files={"file": ("don-vi.csv", sheet, "text/csv")})
    assert checked.status_code == 200 and "Tệp hợp lệ: 76 đơn vị (74 mới, 2 đã có)" in checked.text
    assert files(staff.settings) == before
    wide = admin.post("/units/import", data={"csrf": csrf}, files={"file": ("don-vi.csv", sheet.decode().encode(
        "utf-16"), "text/csv")})
    assert wide.status_code == 400 and "không phải văn bản UTF-8" in wide.text and files(staff.settings) == before
    done = admin.post("/units/import", data={"csrf": csrf}, files={"file": ("don-vi.csv", sheet, "text/csv")})
    assert done.status_code == 303 and "it-ong" in staff.config.units  # in use at once, no restart
    assert "Đã nhập 76 đơn vị" in admin.get(done.headers["location"]).text
    commune, commune_csrf = logged_in(staff, "mai")
    refused = commune.post("/units/import", data={"csrf": commune_csrf},
                           files={"file": ("don-vi.csv", sheet, "text/csv")})
    assert refused.status_code == 403
