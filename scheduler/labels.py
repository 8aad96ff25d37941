"""The Vietnamese names staff read for the system's codes: states, statuses, roles (a channel kind's
name is its class's ``label``).

One place for pages, reports, exports and command-line tables, so the same thing has the same name
everywhere. Codes stay English in the database and the API; people read these.
"""

from __future__ import annotations

from scheduler.codes import ACTIVITY_KIND  # noqa: F401  staff read the kinds' names from here too
from scheduler.record.models import AnnouncementStatus as A
from scheduler.record.models import AsRunStatus as R
from scheduler.record.models import DeliveryState as S
from scheduler.record.models import Role

ANNOUNCEMENT_STATUS = {A.DRAFT: "Nháp", A.SUBMITTED: "Chờ duyệt", A.APPROVED: "Đã duyệt", A.REJECTED: "Bị từ chối",
                       A.CANCELLED: "Đã hủy"}
DELIVERY_STATE = {S.PENDING: "Chờ đến giờ", S.SENDING: "Đang gửi", S.DELIVERED: "Đã đăng/phát",
                  S.RETRY_WAIT: "Chờ thử lại", S.FAILED: "Lỗi", S.NEEDS_RECONCILE: "Đang kiểm tra lại",
                  S.EXPIRED: "Quá hạn", S.CANCELLED: "Đã hủy", S.SCHEDULED: "Đã hẹn giờ trên nền tảng",
                  S.RETRACTING: "Đang gỡ", S.PREVIEWED: "Xem trước (không đăng)",
                  S.NEEDS_PERSON: "Cần người xác nhận"}
AS_RUN_STATUS = {R.PREPARED: "Đã dựng, chờ giờ phát", R.PLAYING: "Đang phát", R.PLAYED: "Đã phát",
                 R.SKIPPED: "Không có tin, không phát", R.MISSED: "Bị lỡ", R.INTERRUPTED: "Bị ngắt",
                 R.FAILED: "Không phát được"}
ROLE = {Role.EDITOR: "Biên tập", Role.APPROVER: "Thẩm định", Role.ADMIN: "Quản trị"}
SYSTEM_ACTORS = {"cchc-fill": "hệ thống (tự xếp tin dùng lại)", "cchc-service": "hệ thống (dịch vụ)",
                 "cchc-dispatch": "hệ thống (gửi tin)", "cli": "dòng lệnh trên máy chủ"}
AUDIT_ACTION = {"station-sound": "đặt âm thanh của đài", "station-sound-cleared": "bỏ âm thanh của đài",
                "create": "tạo thông báo", "edit": "sửa", "translate": "dịch", "submit": "gửi duyệt",
                "approve": "phê duyệt", "reject": "từ chối", "cancel": "hủy", "fill": "tự xếp tin dùng lại",
                "quota_warning": "cảnh báo chỉ tiêu", "login": "đăng nhập", "login-failed": "đăng nhập sai",
                "logout": "đăng xuất", "user-add": "tạo tài khoản", "user-passwd": "đổi mật khẩu",
                "user-unit": "chuyển đơn vị của tài khoản",
                "user-disable": "khóa tài khoản", "user-enable": "mở khóa tài khoản",
                "user-sessions-revoked": "chấm dứt các phiên đăng nhập", "channel-hold": "tạm dừng kênh",
                "channel-release": "mở lại kênh", "settle": "xác nhận lượt phát",
                "activity": "ghi hoạt động", "plan_new": "tạo kế hoạch năm", "restore": "khôi phục bản sao lưu",
                "unit_import": "nhập đơn vị từ tệp", "channel-settings": "sửa cài đặt kênh",
                "channel-token": "nhập mã làm mới của kênh"}
PREVIEW_MODE = "xem trước (không đăng)"
MODE = {"preview": "Xem trước (chưa đăng lên nền tảng)", "live": "Đăng thật"}
# What an office sets up itself on a channel's page (scheduler.channel_setup): the label, and a hint under it.
CHANNEL_FIELD = {
    "title": ("Tên kênh", ""), "mode": ("Chế độ", ""), "enabled": ("Đang bật", "Tắt kênh: không gửi gì lên kênh này."),
    "grace_minutes": ("Trễ tối đa (phút)", "Quá giờ hẹn chừng này phút mà chưa gửi được thì bỏ, không gửi muộn."),
    "site_title": ("Tên trang", ""), "base_url": ("Địa chỉ trang", "Bắt đầu bằng http:// hoặc https://"),
    "slots": ("Khung giờ phát", "Giờ:phút, cách nhau bằng dấu phẩy, ví dụ 06:00, 17:00"),
    "max_minutes": ("Độ dài tối đa một chương trình (phút)", ""),
    "station_id": ("Lời giới thiệu đài", "Đọc ở đầu mỗi chương trình."),
    "outro": ("Lời kết", "Đọc ở cuối mỗi chương trình."),
    "page_id": ("Mã số Trang Facebook (Page ID)", "Chỉ gồm chữ số."),
    "hashtags": ("Thẻ (hashtag)", "Cách nhau bằng dấu phẩy, không cần dấu #."),
    "app_id": ("Mã ứng dụng Zalo (App ID)", "Chỉ gồm chữ số."), "author": ("Tác giả bài viết", ""),
    "cover_url": ("Ảnh bìa bài viết (địa chỉ)", "Bắt đầu bằng http:// hoặc https://"),
    "broadcast": ("Gửi thông báo bài mới tới người quan tâm", ""),
    "client_key": ("Mã ứng dụng TikTok (client key)", ""),
    "url": ("Địa chỉ", "Bắt đầu bằng http:// hoặc https://"),
    "reconcile_url": ("Địa chỉ kiểm tra lại", "Bắt đầu bằng http:// hoặc https://"),
    "user": ("Tài khoản đăng bài", ""), "category": ("Chuyên mục", ""),
}

DECISION = {"approved": "Đã duyệt", "rejected": "Trả lại"}  # an approver's decision on an announcement
NOTICE_KIND = {"approval": "tin chờ duyệt", "rejected": "tin bị trả lại", "channel_held": "kênh tạm dừng",
               "emergency_failed": "tin khẩn chưa đi", "digest": "tóm tắt ngày"}
NOTICE_STATUS = {"pending": "chờ gửi", "sent": "đã gửi", "failed": "không gửi được", "dropped": "đã bỏ (không còn cần)"}


PERIOD = {"day": "ngày", "week": "tuần", "month": "tháng", "quarter": "quý", "half": "6 tháng", "year": "năm"}
CATEGORY = {"website": "trang thông tin điện tử", "social": "mạng xã hội", "loudspeaker": "hệ thống truyền thanh"}


def target(minimum: int, period: str, channel: str | None, languages: list[str]) -> str:
    """A plan's target as staff read it: "ít nhất 4 lượt mỗi tháng trên trang thông tin điện tử (tiếng Việt)";
    ``channel`` a category, a group or channel name, or ``activity:KIND`` (a register of activities)."""
    from channels.languages import LANGUAGE_NAMES

    every = PERIOD.get(period, period)
    said = ", ".join(LANGUAGE_NAMES.get(lang, lang) for lang in languages)
    if channel and channel.startswith("activity:"):
        kind = channel.removeprefix("activity:")
        return f"ít nhất {minimum} lần mỗi {every}: {ACTIVITY_KIND.get(kind, kind)} ({said})"
    return f"ít nhất {minimum} lượt mỗi {every} trên {CATEGORY.get(channel or '', channel or '?')} ({said})"


AUDIT_SUBJECT = {"announcement": "thông báo số", "user": "tài khoản", "activity": "hoạt động số", "plan": "kế hoạch",
                 "channel": "kênh", "delivery": "lượt phát số", "backup": "bản sao lưu", "target": "chỉ tiêu",
                 "file": "tệp"}
AUDIT_DETAIL = {"address": "địa chỉ", "audio": "kèm ghi âm", "before": "trước đó", "changed": "đã sửa",
                "channel": "kênh", "content_hash": "mã nội dung", "deliveries": "số lượt xếp lịch",
                "deliveries_cancelled": "số lượt hủy", "duration_ms": "thời gian (ms)", "held_on": "ngày",
                "kind": "loại", "lang": "tiếng", "languages": "tiếng", "message": "ghi chú", "posted": "đã đăng",
                "reason": "lý do", "ref": "mã", "role": "vai trò", "sessions_ended": "số phiên kết thúc",
                "slot": "khung giờ", "source": "sao từ", "title": "tiêu đề", "until": "đến", "url": "địa chỉ bài",
                "year": "năm", "target": "chỉ tiêu", "period": "kỳ", "needed": "còn thiếu", "units": "số đơn vị",
                "changes": "số thay đổi"}


def audit_subject(subject: str) -> str:
    """``announcement:12`` as "thông báo số 12", ``user:mai`` as "tài khoản mai"."""
    kind, _, name = subject.partition(":")
    return f"{AUDIT_SUBJECT[kind]} {name}" if name and kind in AUDIT_SUBJECT else subject


def audit_detail(detail: dict) -> str:
    """An audit event's details in words: "vai trò: quản trị; mã nội dung: 3f2a…"."""
    def value(key: str, item: object) -> str:
        if key == "role" and item in ROLE:
            return ROLE[item].lower()
        if key in ("lang", "languages"):
            from channels.languages import LANGUAGE_NAMES

            codes = item if isinstance(item, list) else [item]
            return ", ".join(LANGUAGE_NAMES.get(str(code), str(code)) for code in codes)
        if isinstance(item, bool):
            return "có" if item else "không"
        if isinstance(item, list):
            return ", ".join(map(str, item))
        return str(item)

    return "; ".join(f"{AUDIT_DETAIL.get(key, key)}: {value(key, item)}" for key, item in detail.items())


def actor(name: str) -> str:
    """A person's name as it is, the service's own actions by what they are."""
    return SYSTEM_ACTORS.get(name, name)
# What one attempt achieved (the delivery log's "Kết quả" column).
OUTCOME = {"sent": "đã gửi", "previewed": PREVIEW_MODE, "pending": "nền tảng đang xử lý",
           "retryable": "lỗi tạm thời", "rate_limited": "nền tảng yêu cầu chờ", "permanent": "bị từ chối",
           "needs_reauth": "cần cấp lại thông tin xác thực", "unknown": "chưa rõ kết quả", "held": "tạm giữ",
           "interrupted": "bị gián đoạn", "reconcile:present": "kiểm tra: đã có trên nền tảng",
           "reconcile:absent": "kiểm tra: chưa có trên nền tảng", "reconcile:unknown": "kiểm tra: chưa rõ",
           "retract:sent": "đã gỡ bài hẹn giờ", "posted": "người xác nhận: đã đăng",
           "not-posted": "người xác nhận: chưa đăng"}


# What one row of the delivery log did (the attempt's kind).
ATTEMPT_KIND = {"send": "gửi", "reconcile": "kiểm tra lại trên nền tảng", "retract": "gỡ bài hẹn giờ",
                "settle": "người xác nhận"}
PRIORITY = {"normal": "thường", "priority": "ưu tiên", "emergency": "khẩn cấp"}
ORIGIN = {"schedule": "theo lịch", "fill": "tự xếp tin dùng lại"}
AS_RUN_KIND = {"slot": "khung giờ", "emergency": "khẩn cấp"}
REPEAT = {"none": "không lặp", "daily": "hằng ngày", "weekly": "hằng tuần"}

# The header of each column of the command line's tables and of the CSV exports (JSON keeps the codes).
COLUMN = {
    "id": "số", "ref": "mã", "status": "trạng thái", "priority": "mức", "when": "thời điểm", "repeat": "lặp",
    "channels": "kênh", "channel": "kênh", "languages": "tiếng", "lang": "tiếng", "delivered": "đã đăng/phát",
    "author": "người viết", "title": "tiêu đề", "due": "giờ hẹn", "origin": "nguồn", "state": "trạng thái",
    "attempts": "số lần gửi", "next_attempt": "lần thử tới", "error": "lỗi", "time": "thời gian",
    "action": "việc", "outcome": "kết quả", "http": "mã HTTP", "ms": "ms", "remote_id": "mã trên nền tảng",
    "url": "địa chỉ", "message": "ghi chú", "name": "tên", "role": "vai trò", "active": "hoạt động",
    "sessions": "phiên", "created": "tạo lúc", "at": "lúc", "actor": "người làm", "subject": "đối tượng",
    "detail": "chi tiết", "slot": "khung giờ", "kind": "loại", "started": "bắt đầu", "ended": "kết thúc",
    "delay_s": "trễ (giây)", "length": "thời lượng", "played": "đã phát", "engine": "giọng đọc",
    "target": "chỉ tiêu", "clause": "điều khoản", "period": "kỳ", "minimum": "tối thiểu",
    "scheduled": "đã lên lịch", "filled": "tự xếp", "needed": "còn thiếu", "status_text": "đánh giá",
    "warn": "cảnh báo", "unit": "đơn vị", "date": "ngày", "kind_text": "loại", "place": "địa điểm",
    "participants": "số người", "evidence": "minh chứng", "code": "mã", "level": "cấp", "parent": "cấp trên",
    "slots": "khung giờ",
    "to": "gửi tới", "notice": "loại thư", "mail": "trạng thái", "tries": "lần gửi",
}
# The values staff read in those columns, by column (codes not listed stay as they are).
VALUES = {"state": DELIVERY_STATE, "status": {**ANNOUNCEMENT_STATUS, **AS_RUN_STATUS}, "outcome": OUTCOME,
          "action": ATTEMPT_KIND, "priority": PRIORITY, "origin": ORIGIN, "kind": AS_RUN_KIND, "repeat": REPEAT,
          "role": ROLE, "notice": NOTICE_KIND, "mail": NOTICE_STATUS}


TIMES = frozenset({"time", "due", "when", "next_attempt", "at", "slot", "started", "ended", "expires"})


def readable(rows: list[dict], columns: list[str]) -> list[dict]:
    """``rows`` with the coded values of ``columns`` in words and their times as Vietnamese write them
    (``dd/mm/yyyy HH:MM``), for tables and CSV; JSON keeps codes and ISO times."""
    from scheduler.clock import vn_input

    maps = {column: VALUES[column] for column in columns if column in VALUES}
    times = [column for column in columns if column in TIMES]
    return [{**row, **{c: m.get(row.get(c), row.get(c)) for c, m in maps.items()},
             **{c: vn_input(row[c]) if isinstance(row.get(c), str) else row.get(c) for c in times}} for row in rows]
