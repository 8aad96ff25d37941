"""Configuration: the shipped files are valid, and every mistake is reported with file and line."""

import pytest

from scheduler.config import load_config, locate
from scheduler.errors import ConfigError


def problems(config_dir):
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir)
    return raised.value.problems


def test_the_shipped_configuration_holds_both_plans(config_dir):
    config = load_config(config_dir)
    assert config.default_unit == "muong-la"
    assert set(config.plans) == {"muong-la-2025", "son-la-2025"}
    muong_la = config.plans["muong-la-2025"]
    assert list(muong_la.topics) == ["a", "b", "c", "d", "đ", "e", "g", "h", "ban-tin"]
    assert muong_la.targets["bulletin"].topics == ["ban-tin"]  # bulletins are not counted as articles
    assert (muong_la.targets["bulletin"].minimum, muong_la.targets["bulletin"].period) == (4, "month")
    assert config.plans["son-la-2025"].targets["portal-articles"].clause == "II.1.k"
    assert config.plans["son-la-2025"].targets["loudspeaker"].languages == ["vi", "blt", "hmn"]


def edit(config_dir, name, old, new):
    path = config_dir / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def test_a_typo_in_a_key_names_file_line_and_the_allowed_keys(config_dir):
    line = edit(config_dir, "channels.toml", "languages = [\"vi\", \"blt\"", "langauges = [\"vi\", \"blt\"")
    found = problems(config_dir)
    assert found[0].startswith(f"config/channels.toml:{line}: channels.muong-la-website.langauges:")
    assert "các khóa được phép" in found[0] and "languages" in found[0]


def test_th_as_a_language_explains_blt_and_hmn(config_dir):
    line = edit(config_dir, "plans/muong-la-2025.toml", 'languages = ["vi", "blt", "hmn"]', 'languages = ["vi", "th"]')
    found = problems(config_dir)
    assert found == [f"config/plans/muong-la-2025.toml:{line}: targets.loudspeaker.languages: "
                     "'th' là tiếng Thái Lan, không phải tiếng Thái của Sơn La; hãy dùng 'blt' cho tiếng Thái "
                     "(Tai Dam) hoặc 'hmn' cho tiếng Mông"]


def test_send_ahead_is_only_for_channels_that_schedule_and_long_enough(config_dir):
    from tests.helpers import set_channel

    set_channel(config_dir, "muong-la-website", send_ahead_minutes=60)
    set_channel(config_dir, "muong-la-wordpress", send_ahead_minutes=3)
    website, wordpress = problems(config_dir)
    assert "channels.muong-la-website.send_ahead_minutes" in website and "không tự hẹn giờ" in website
    assert "channels.muong-la-wordpress.send_ahead_minutes" in wordpress and "cần từ 4 phút" in wordpress


def test_all_problems_are_reported_at_once(config_dir):
    edit(config_dir, "units.toml", 'slots = ["06:00", "17:00"]', 'slots = ["6h", "17:00"]')
    edit(config_dir, "channels.toml", 'kind = "webhook"', 'kind = "fax"')
    edit(config_dir, "plans/son-la-2025.toml", "minimum = 2", "minimum = 0")
    found = "\n".join(problems(config_dir))
    assert "units.toml" in found and "HH:MM" in found
    assert "loại kênh 'fax' không tồn tại" in found
    assert "son-la-2025.toml" in found and "lớn hơn hoặc bằng 1" in found


@pytest.mark.parametrize(("value", "message"), [("0", "phải lớn hơn 0"), ("1.5", "nhỏ hơn hoặc bằng 1")])
def test_warn_at_is_a_fraction_of_the_period(config_dir, value, message):
    edit(config_dir, "plans/muong-la-2025.toml", "warn_at = 0.5", f"warn_at = {value}")
    [found] = problems(config_dir)
    assert found.startswith("config/plans/muong-la-2025.toml:") and "compliance.warn_at" in found and message in found


def test_toml_syntax_errors_and_missing_files_are_named(config_dir):
    (config_dir / "units.toml").write_text('default_unit = "muong-la"\n[units.x\nname = 1\n')
    (config_dir / "channels.toml").unlink()
    found = problems(config_dir)
    assert any(p.startswith("config/units.toml:2: lỗi cú pháp TOML") for p in found)
    assert any(p.startswith("config/channels.toml: tệp không tồn tại") for p in found)


def test_cross_file_references_are_checked(config_dir):
    edit(config_dir, "channels.toml", 'unit = "son-la"', 'unit = "son-laa"')
    edit(config_dir, "plans/muong-la-2025.toml", 'channel = "social"', 'channel = "radio"')
    found = "\n".join(problems(config_dir))
    assert "không có đơn vị 'son-laa'" in found and "'radio' không phải loại kênh" in found


def test_locate_finds_tables_dotted_and_quoted_keys():
    text = '[a]\nx = 1\n[a.b]\n"đ" = 2\n[c.d.settings]\nurl = "u"\n'
    assert locate(text, ("a", "x")) == 2
    assert locate(text, ("a", "b", "đ")) == 4
    assert locate(text, ("c", "d", "settings", "url")) == 6
    assert locate(text, ("nowhere",)) == 1
