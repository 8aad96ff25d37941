"""Small named errors of the domain. Messages are for staff, in Vietnamese, and never hold secrets."""


class CchcError(Exception):
    """Base of every error the command line and web turn into a clean message. ``web``: the same, worded
    for a page (what to fill in or press) where the message itself names a command."""

    exit_code = 1

    def __init__(self, *args: object, web: str | None = None):
        super().__init__(*args)
        self.web = web


class InputError(CchcError):
    """A value given by a person is wrong: says which field and how to fix it (exit code 2)."""

    exit_code = 2

    def __init__(self, field: str, message: str, *, web: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}", web=web)


class ConfigError(CchcError):
    """One or more configuration files are invalid; ``problems`` holds one line per error."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class NotFoundError(CchcError):
    """An id that names nothing."""

    def __init__(self, what: str, ident: object):
        super().__init__(f"không tìm thấy {what} {ident}")


class RuleError(CchcError):
    """An action the workflow forbids (self-approval, approving a draft, editing a cancelled item)."""


class OtherUnitError(RuleError):
    """What was asked for belongs to a unit the account may not read or act on (``scheduler.record.scope``): the
    web answers 403, the command line exits 1; nothing is shown or changed."""


class ContentChangedError(RuleError):
    """An approver approved a version that is no longer the current one: nothing was approved."""

    def __init__(self, announcement: object, current_hash: str):
        self.current_hash = current_hash
        super().__init__(f"nội dung thông báo {getattr(announcement, 'id', '')} đã thay đổi sau khi bạn xem "
                         f"(bản hiện tại: {current_hash[:12]}); chưa phê duyệt gì. Hãy đọc lại bản mới rồi "
                         "phê duyệt")


class DatabaseNotReadyError(CchcError):
    """The database has not been created or is behind the code's migrations."""
