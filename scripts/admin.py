"""``cchc-admin``: a ``cchc`` command as the service runs it, for the server's operator (root).

``scripts/install.sh`` writes a small ``cchc-admin`` that runs this module as root:

    python -m scripts.admin ENV_FILE SERVICE_USER CONFIG_DIR -- COMMAND...

It reads the secrets file exactly as systemd's ``EnvironmentFile=`` reads it for the service
(``read_env_file``: a WordPress application password "abcd EFGH 1234 ijkl MNOP 5678" is one value, as
the service sees it; the file is never run by a shell), adds the configuration and data folders, and
becomes the service's user with ``runuser``. The secrets reach the command through its environment,
never its arguments.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WHITESPACE, NEWLINE, COMMENTS = " \t\n\r", "\n\r", "#;"
DOUBLE_QUOTED_ESCAPES = '"\\`$'  # systemd's SHELL_NEED_ESCAPE: a backslash before any other keeps both


def read_env_file(text: str) -> dict[str, str]:
    """The variables of an ``EnvironmentFile=`` as systemd (env-file.c) parses them: ``#`` or ``;`` starts a
    comment line; an unquoted value keeps its inner spaces and quotes, loses its outer whitespace, and takes
    a backslash as "the next character as it is" (at a line's end: the value goes on in the next line);
    single quotes keep everything; double quotes take backslash before ``"``, ``\\``, a backquote or ``$``;
    quoted and unquoted parts next to each other are one value. A line without ``=`` or with a name that is
    not a variable name is ignored, as systemd ignores it."""
    found: dict[str, str] = {}
    state, key, value, trailing = "pre_key", "", [], None  # trailing: where a value's closing spaces begin

    def end_value() -> None:
        nonlocal key, value, trailing
        name = key.strip()
        if NAME.match(name):
            found[name] = "".join(value[:trailing] if trailing is not None else value)
        key, value, trailing = "", [], None

    for c in text + "\n":
        if state == "pre_key":
            if c in COMMENTS:
                state = "comment"
            elif c not in WHITESPACE:
                state, key = "key", c
        elif state == "key":
            if c in NEWLINE:
                state, key = "pre_key", ""
            elif c == "=":
                state = "pre_value"
            else:
                key += c
        elif state == "pre_value":
            if c in NEWLINE:
                state = "pre_key"
                end_value()
            elif c == "'":
                state = "single"
            elif c == '"':
                state = "double"
            elif c == "\\":
                state = "value_escape"
            elif c not in WHITESPACE:
                state = "value"
                value.append(c)
        elif state == "value":
            if c in NEWLINE:
                state = "pre_key"
                end_value()
            elif c == "\\":
                state, trailing = "value_escape", None
            else:
                if c not in WHITESPACE:
                    trailing = None
                elif trailing is None:
                    trailing = len(value)
                value.append(c)
        elif state == "value_escape":
            state = "value"
            if c not in NEWLINE:
                value.append(c)
        elif state == "single":
            if c == "'":
                state = "pre_value"
            else:
                value.append(c)
        elif state == "double":
            if c == '"':
                state = "pre_value"
            elif c == "\\":
                state = "double_escape"
            else:
                value.append(c)
        elif state == "double_escape":
            state = "double"
            if c in DOUBLE_QUOTED_ESCAPES:
                value.append(c)
            elif c != "\n":
                value += ["\\", c]
        elif state == "comment":
            if c == "\\":
                state = "comment_escape"
            elif c in NEWLINE:
                state = "pre_key"
        elif state == "comment_escape":
            state = "comment"
    return found


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[3] != "--":
        sys.exit("cchc-admin: cách dùng: python -m scripts.admin TỆP_BÍ_MẬT NGƯỜI_DÙNG THƯ_MỤC_CẤU_HÌNH -- LỆNH...")
    env_file, user, config_dir, command = Path(argv[0]), argv[1], argv[2], argv[4:]
    try:
        secrets = read_env_file(env_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        sys.exit(f"cchc-admin: không đọc được {env_file}: {exc}")
    environment = {**os.environ, **secrets, "CCHC_CONFIG_DIR": config_dir}
    environment.setdefault("CCHC_DATA_DIR", "/var/lib/cchc")
    os.chdir(environment["CCHC_DATA_DIR"])
    cchc = str(Path(sys.executable).with_name("cchc"))
    os.execvpe("runuser", ["runuser", "-u", user, "--", cchc, *command], environment)


if __name__ == "__main__":
    main(sys.argv[1:])
