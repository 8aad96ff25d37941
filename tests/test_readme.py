"""The README's tours run as written: every command block of every "Try it" section, in order, from the
project folder, in a fresh data folder, on a terminal where a person types the passwords asked for: at the
real date here, and at a date in another year in ``test_readme_another_year.py`` (libfaketime sets the clock
of every process the tours start: the commands, SQLite, ffmpeg). A command that fails, or a block that cannot
run, fails the test with its output."""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import subprocess
import termios
import threading
from pathlib import Path

import pytest

from scheduler.settings import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
PASSWORD = "Mat-khau-tap-2026!"  # typed at every password prompt of the tours
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"  # Debian's faketime (scripts/setup.sh)
SHELL_LINE = re.compile(r"^(cchc |export |unset |[A-Z_]+=)")


def tours(readme: str) -> list[tuple[str, list[str]]]:
    """Each "Try it" section's commands, in order: the indented blocks whose first line is a command
    (continuation lines joined); blocks of configuration files are left to the reader."""
    found = []
    for section in re.split(r"^## ", readme, flags=re.MULTILINE)[1:]:
        title, _, body = section.partition("\n")
        if not title.startswith("Try it"):
            continue
        commands: list[str] = []
        for block in re.findall(r"(?:^(?: {4}.*)?\n)+", body, flags=re.MULTILINE):
            lines = [line[4:] for line in block.splitlines() if line.strip()]
            if not lines or not SHELL_LINE.match(lines[0]):
                continue
            joined = "\n".join(lines).replace("\\\n", " ")
            commands += [line for line in joined.splitlines() if line.strip()]
        found.append((title, commands))
    return found


def script(commands: list[str]) -> str:
    """The commands as one bash script that stops at the first failure and says which it was."""
    out = ["set -u"]
    for command in commands:
        shown = shlex.quote(command)
        out.append(f"printf '\\n$ %s\\n' {shown}")
        out.append(f"{command} || {{ printf '\\nFAILED (%s): %s\\n' $? {shown}; exit 1; }}")
    return "\n".join(out) + "\n"


def on_a_terminal(text: str, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``text`` with bash on a pseudo-terminal, typing PASSWORD at each password prompt."""
    main, other = os.openpty()
    def controlling_terminal() -> None:  # as a login's terminal: getpass reads the password from it
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    bash = subprocess.Popen(["bash", "-c", text], stdin=other, stdout=other, stderr=other, env=env,
                            cwd=PROJECT_ROOT, start_new_session=True, preexec_fn=controlling_terminal)
    os.close(other)
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)
            # "Mật khẩu:" and "Nhập lại mật khẩu:", then getpass's own " " once it stopped the echo
            if seen[-40:].decode("utf-8", "ignore").endswith("khẩu: "):
                os.write(main, PASSWORD.encode() + b"\n")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = bash.wait(timeout)
    except subprocess.TimeoutExpired:
        bash.kill()
        code = -1
    reader.join(5)
    os.close(main)
    return code, seen.decode("utf-8", "replace").replace("\r\n", "\n")


def run_the_tours(tmp_path: Path, moment: str | None = None) -> None:
    """Every tour, in order, at the real date or from ``moment`` on (libfaketime); what they write under /tmp
    goes to ``tmp_path``'s own folder instead, so the two runs may go side by side."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = tours(readme)
    assert len(found) >= 5 and all(commands for _, commands in found)
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env |= {"CCHC_DATA_DIR": str(tmp_path / "data"), "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}:{env['PATH']}",
            "CCHC_SITE_PORT": "0", "CCHC_WEB_PORT": "0"}
    if moment is not None:  # the clock starts there and runs
        env |= {"LD_PRELOAD": FAKETIME, "FAKETIME": f"@{moment}"}
    before = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            check=False).stdout
    commands = [c.replace(" /tmp/", f" {out}/") for _, commands in found for c in commands]
    code, output = on_a_terminal("cchc init\n" + script(commands), env, timeout=300)
    assert code == 0, output[-6000:]
    assert "Traceback" not in output, output[-6000:]
    for said in ("Đã tạo tài khoản quantri (quản trị, Tỉnh Sơn La)",  # what the tours say each step shows
                 "đã đăng/phát 1",  # the first item, sent at its slot on the practice copy
                 "Đã ghi báo cáo quý III năm 2025", f"Đã ghi {out}/de-xuat.toml",
                 "Tệp hợp lệ: 76 đơn vị", "Đã tạo tài khoản hoa (thẩm định, Xã Ít Ong)",
                 "Đã tạo kế hoạch it-ong-2025", "Đã ghi hoạt động 1 (đối thoại với doanh nghiệp"):
        assert said in output, said
    assert re.search(r"khung giờ\s+Đã phát\s+\d\d:\d\d:\d\d .* 2/2", output)  # the slot, both parts played
    after = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                           check=False).stdout
    assert after == before  # the tours leave the project's files as they were


def test_every_tour_of_the_readme_runs_as_written(tmp_path):
    run_the_tours(tmp_path)
