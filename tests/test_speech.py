"""Speech text for Vietnamese TTS: what the announcer would read, and the lexicon in config/."""

import pytest

from channels.loudspeaker.speech import SpeechError, SpeechText, read_number
from scheduler.config import load_config
from scheduler.errors import ConfigError
from scheduler.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def speech():
    lexicon = load_config(PROJECT_ROOT / "config").speech
    return SpeechText.from_config(lexicon)


@pytest.mark.parametrize(("number", "words"), [
    (0, "không"), (5, "năm"), (10, "mười"), (15, "mười lăm"), (21, "hai mươi mốt"), (24, "hai mươi tư"),
    (105, "một trăm linh năm"), (110, "một trăm mười"), (1005, "một nghìn không trăm linh năm"),
    (2025, "hai nghìn không trăm hai mươi lăm"), (1_000_000, "một triệu"),
    (1_000_005, "một triệu không trăm linh năm"),
    (1_234_567, "một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy"),
])
def test_numbers_are_read_the_northern_way(number, words):
    assert read_number(number) == words


@pytest.mark.parametrize(("text", "spoken"), [
    # a day and month without a year, and a range of days in one month
    ("Ngày 20/11 là ngày Nhà giáo Việt Nam", "Ngày hai mươi tháng mười một là ngày Nhà giáo Việt Nam"),
    ("Hạn nộp hồ sơ trước 30/11", "Hạn nộp hồ sơ trước ba mươi tháng mười một"),
    ("Tiêm chủng từ ngày 20 đến 25/11", "Tiêm chủng từ ngày hai mươi đến hai mươi lăm tháng mười một"),
    ("Nghỉ lễ 30/4-1/5", "Nghỉ lễ ba mươi tháng tư đến mùng một tháng năm"),
    # numbers to call, digit by digit
    ("Gọi đường dây nóng 1900 1234", "Gọi đường dây nóng một chín không không, một hai ba bốn"),
    ("Khi có cháy, gọi 114 hoặc 112", "Khi có cháy, gọi một một bốn hoặc một một hai"),
    ("Hotline: 0912 345 678", "Hotline: không chín một hai, ba bốn năm, sáu bảy tám"),
    ("Tổng đài 1800 1090 miễn phí", "Tổng đài một tám không không, một không chín không miễn phí"),
    # money
    ("Lệ phí 50.000đ", "Lệ phí năm mươi nghìn đồng"),
    ("hỗ trợ 1.500.000 VNĐ mỗi hộ", "hỗ trợ một triệu năm trăm nghìn đồng mỗi hộ"),
    ("tổng kinh phí 2,5 tỷ đồng", "tổng kinh phí hai phẩy năm tỷ đồng"),
    ("mức phạt 500 nghìn đồng", "mức phạt năm trăm nghìn đồng"),
    # units of measure
    ("diện tích 120 m2", "diện tích một trăm hai mươi mét vuông"),
    ("nhà 35 m² đất", "nhà ba mươi lăm mét vuông đất"),
    ("nhiệt độ cao nhất 38°C", "nhiệt độ cao nhất ba mươi tám độ C"),
    ("lượng mưa 120 mm", "lượng mưa một trăm hai mươi mi li mét"),
    ("cách trung tâm 12 km", "cách trung tâm mười hai ki lô mét"),
    ("gieo cấy 250 ha lúa", "gieo cấy hai trăm năm mươi héc ta lúa"),
    ("hỗ trợ 15 kg gạo", "hỗ trợ mười lăm ki lô gam gạo"),
    ("2 đội xung kích", "hai đội xung kích"),
    # fractions outside dates and document numbers
    ("đã tiêm cho 2/3 số trẻ", "đã tiêm cho hai phần ba số trẻ"),
    ("Từ 01/8/2025", "Từ ngày mùng một tháng tám năm hai nghìn không trăm hai mươi lăm"),
    ("ngày 15/4/2025", "ngày mười lăm tháng tư năm hai nghìn không trăm hai mươi lăm"),
    ("tháng 8/2025", "tháng tám năm hai nghìn không trăm hai mươi lăm"),
    ("lúc 14h30", "lúc mười bốn giờ ba mươi phút"),
    ("lúc 7h", "lúc bảy giờ"),
    ("lúc 08:05", "lúc tám giờ năm phút"),
    ("đạt 95,5%", "đạt chín mươi lăm phẩy năm phần trăm"),
    ("tăng 3,25 điểm", "tăng ba phẩy hai mươi lăm điểm"),
    ("1.234 hồ sơ", "một nghìn hai trăm ba mươi tư hồ sơ"),
    ("giai đoạn 2021-2030", "giai đoạn hai nghìn không trăm hai mươi mốt đến hai nghìn không trăm ba mươi"),
    ("từ 10-15%", "từ mười phần trăm đến mười lăm phần trăm"),
    ("Quyết định số 1928/QĐ-UBND", "Quyết định số một nghìn chín trăm hai mươi tám quyết định Ủy ban nhân dân"),
    ("Nghị quyết số 57-NQ/TW", "Nghị quyết số năm mươi bảy nghị quyết Trung ương"),
    ("Nghị quyết số 71/NQ-CP", "Nghị quyết số bảy mươi mốt nghị quyết Chính phủ"),
    ("Thông tư 39/2020/TT-BTTTT",
     "Thông tư ba mươi chín năm hai nghìn không trăm hai mươi thông tư Bộ Thông tin và Truyền thông"),
    ("lần thứ 4", "lần thứ tư"),
    ("Đại hội XIII, quý III", "Đại hội mười ba, quý ba"),
    ("II. NỘI DUNG", "Phần hai. nội dung"),
    ("CCHC và TTHC", "cải cách hành chính và thủ tục hành chính"),
    ("UBND, HĐND", "Ủy ban nhân dân, Hội đồng nhân dân"),
    ("PAR INDEX, SIPAS", "chỉ số cải cách hành chính, chỉ số hài lòng của người dân, tổ chức đối với sự phục vụ "
                         "của cơ quan hành chính nhà nước"),
    ("gọi 0212 3852 123", "gọi không hai một hai, ba tám năm hai, một hai ba"),
    ("xem https://dichvucong.gov.vn/p/home", "xem dịch vụ công chấm gờ o vê chấm vê en"),
    ("Thông báo 📢 khẩn ★", "Thông báo khẩn"),
])
def test_speech_text_reads_like_an_announcer(speech, text, spoken):
    assert speech.speak(text) == spoken


def test_a_text_of_only_symbols_is_refused_with_a_reason(speech):
    with pytest.raises(SpeechError, match="không có chữ nào"):
        speech.speak("📢📢 ★★ ### !!! → ✓")


def test_staff_add_lexicon_entries_without_code(config_dir):
    path = config_dir / "speech.toml"
    text = path.read_text(encoding="utf-8").replace("[abbreviations]\n", '[abbreviations]\n"CLB" = "câu lạc bộ"\n')
    path.write_text(text, encoding="utf-8")
    lexicon = load_config(config_dir).speech
    assert SpeechText(lexicon.abbreviations).speak("CLB dân ca xã") == "câu lạc bộ dân ca xã"


def test_a_lexicon_entry_that_expands_into_itself_is_a_config_error(config_dir):
    path = config_dir / "speech.toml"
    text = path.read_text(encoding="utf-8").replace('"CNTT" = "công nghệ thông tin"', '"CNTT" = "CNTT số"')
    path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith('"CNTT"'))
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert f"config/speech.toml:{line}: abbreviations.CNTT:" in str(caught.value)
    assert "chứa chính 'CNTT'" in str(caught.value)


def test_unknown_capitals_are_listed_for_staff_to_add(speech):
    text = "UBND xã phối hợp với BĐH dự án và HTX Tân Tiến; Điều II, Quyết định 1928/QĐ-UBND; tổ XQZ"
    unknown = speech.unknown_abbreviations(text)
    assert "UBND" not in unknown and "II" not in unknown and "QĐ" not in unknown and "HTX" not in unknown
    assert unknown == ["BĐH", "XQZ"]
    assert speech.unknown_abbreviations("Luật số 31/2024/QH15, BNV5") == []  # a term or number after a known code
    assert speech.unknown_abbreviations("THÔNG BÁO LỊCH TIẾP CÔNG DÂN") == []  # a heading is read, not spelled


def test_cchc_speech_explain_names_what_to_add(settings):
    from tests.cli import invoke

    shown = invoke(settings, "speech", "--explain", "Ban XQZ và HTX xã Mường La thông báo")
    assert shown.returncode == 0, shown.stderr
    assert "hợp tác xã" in shown.stdout and 'XQZ = "..."' in shown.stdout and "config/speech.toml" in shown.stdout


@pytest.mark.parametrize(("text", "north", "south"), [
    ("105 hộ", "một trăm linh năm hộ", "một trăm lẻ năm hộ"),
    ("24 giờ", "hai mươi tư giờ", "hai mươi bốn giờ"),
    ("1.500 người", "một nghìn năm trăm người", "một ngàn năm trăm người"),
    ("năm 2024", "năm hai nghìn không trăm hai mươi tư", "năm hai ngàn không trăm hai mươi bốn"),
    ("ngày 30/4", "ngày ba mươi tháng tư", "ngày ba mươi tháng tư"),  # the month is "tư" everywhere
    ("thứ 4", "thứ tư", "thứ tư"),
])
def test_the_dialect_in_speech_toml_chooses_the_number_readings(config_dir, text, north, south):
    assert SpeechText.from_config(load_config(config_dir).speech).speak(text) == north
    path = config_dir / "speech.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('dialect = "north"', 'dialect = "south"'),
                    encoding="utf-8")
    assert SpeechText.from_config(load_config(config_dir).speech).speak(text) == south


def test_an_unknown_dialect_is_a_config_error_naming_the_choices(config_dir):
    path = config_dir / "speech.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('dialect = "north"', 'dialect = "central"'),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert "dialect" in str(caught.value) and "'north'" in str(caught.value) and "'south'" in str(caught.value)


def test_an_address_part_from_the_lexicon_is_spoken_and_unknown_consonants_are_spelled(speech):
    assert speech.speak("ubnd.xa@sonla.gov.vn") == "u bê en dê chấm xa a còng sơn la chấm gờ o vê chấm vê en"
    assert speech.speak("www.facebook.com/xamuongla/posts/1") == "facebook chấm com"
