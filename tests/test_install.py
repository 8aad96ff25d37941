"""scripts/install.sh as an operator runs it on Debian 12: the unit passes ``systemd-analyze verify``,
the secrets are root's only, and the unit's own ExecStartPre and ExecStart run as the service user
(this machine has no systemd running, so the test starts them as systemd would: that user, that
environment, the state directory)."""

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scripts.admin import read_env_file
from tests.pg import _free_port

ROOT = Path(__file__).resolve().parents[1]
USER = "cchc-test"


def as_root(*args: str) -> list[str]:
    return list(args) if os.geteuid() == 0 else ["sudo", "-n", *args]



@pytest.fixture(scope="module")
def installed():
    place = Path(tempfile.mkdtemp(prefix="cchc-install-", dir="/tmp"))
    place.chmod(0o755)  # the service user walks through it to the code, as through /opt
    command = as_root(str(ROOT / "scripts" / "install.sh"), "--prefix", str(place / "opt"), "--etc",
                      str(place / "etc"), "--unit-dir", str(place / "units"), "--bin-dir", str(place / "bin"),
                      "--user", USER, "--no-start")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    yield place, done
    subprocess.run(as_root("rm", "-rf", str(place)), check=False)


def unit_lines(place: Path) -> list[tuple[str, str]]:
    lines = (place / "units" / "cchc.service").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("=", 1)) for line in lines if "=" in line and not line.startswith("#")]


def test_the_unit_verifies_and_keeps_secrets_to_root(installed):
    place, done = installed
    unit = place / "units" / "cchc.service"
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr
    settings = dict(unit_lines(place))
    assert settings["User"] == USER and settings["StateDirectory"] == "cchc"
    assert settings["Restart"] == "on-failure" and settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict" and settings["EnvironmentFile"] == str(place / "etc" / "cchc.env")
    assert settings["ExecStart"] == f"{place / 'opt' / '.venv' / 'bin' / 'cchc'} run"
    secrets = place / "etc" / "cchc.env"
    assert secrets.stat().st_uid == 0 and secrets.stat().st_mode & 0o777 == 0o600
    key = next(line for line in secrets.read_text().splitlines() if line.startswith("CCHC_SECRET_KEY="))
    assert len(key.split("=", 1)[1]) == 44
    peek = subprocess.run(as_root("runuser", "-u", USER, "--", "cat", str(secrets)), capture_output=True,
                          text=True, check=False)
    assert peek.returncode != 0 and "CCHC_SECRET_KEY" not in peek.stdout  # the service user cannot read it
    assert (place / "etc" / "nginx-cchc.conf.example").read_text().count("proxy_pass http://127.0.0.1:8090") == 1
    assert "CCHC_SECRET_KEY" not in done.stdout + done.stderr  # the new key is never printed

    config = place / "etc" / "config" / "units.toml"  # installing again keeps staff edits and the key
    config.write_text(config.read_text(encoding="utf-8") + "\n# sửa bởi cán bộ\n", encoding="utf-8")
    again = subprocess.run(as_root(str(ROOT / "scripts" / "install.sh"), "--prefix", str(place / "opt"), "--etc",
                                   str(place / "etc"), "--unit-dir", str(place / "units"), "--user", USER,
                                   "--no-start"), capture_output=True, text=True, timeout=900, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert config.read_text(encoding="utf-8").endswith("# sửa bởi cán bộ\n") and key in secrets.read_text()


def test_the_units_exec_start_runs_as_the_service_user(installed):
    place, _ = installed
    state = place / "state"  # what systemd makes of StateDirectory=cchc, owned by the service user
    subprocess.run(as_root("install", "-d", "-o", USER, "-g", USER, "-m", "750", str(state)), check=True)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for key, value in unit_lines(place):
        if key == "Environment":
            name, _, text = value.partition("=")
            env[name] = text
    env |= read_env_file((place / "etc" / "cchc.env").read_text())  # as systemd reads EnvironmentFile=
    web, site = _free_port(), _free_port()
    env.update(CCHC_DATA_DIR=str(state), CCHC_WEB_PORT=str(web), CCHC_SITE_PORT=str(site))
    settings = dict(unit_lines(place))

    def as_service(command: str) -> list[str]:
        return as_root("runuser", "-u", USER, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                       *command.split())

    prepared = subprocess.run(as_service(settings["ExecStartPre"]), capture_output=True, text=True, timeout=120,
                              check=False)
    assert prepared.returncode == 0, prepared.stderr[-2000:]
    service = subprocess.Popen(as_service(settings["ExecStart"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        health, deadline = None, time.monotonic() + 90
        while time.monotonic() < deadline and service.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz", timeout=5) as answer:
                    health = json.loads(answer.read())
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert health is not None, service.stderr.read() if service.poll() is not None else "no answer"
        assert health["ok"] and health["database"] and health["heartbeat_age_seconds"] < 60
        database = state / "cchc.db"
        owner = database.stat().st_uid
        assert owner != 0 and owner == int(subprocess.run(["id", "-u", USER], capture_output=True, text=True,
                                                          check=True).stdout)  # written by the service user
    finally:
        for pid in service_pids(service.pid):  # what systemctl stop sends to the service's process
            subprocess.run(as_root("kill", "-TERM", str(pid)), check=False)
        try:
            service.wait(timeout=60)
        except subprocess.TimeoutExpired:
            subprocess.run(as_root("kill", "-KILL", f"-{service.pid}"), check=False)
            raise
    # runuser hands back the service's own exit status: 0, a clean stop
    assert service.returncode == 0, service.stderr.read()[-2000:]

    out = state / "backups" / "sau-khi-chay.tar.gz"  # an operator's command, run as the service runs
    saved = subprocess.run(as_root("env", f"CCHC_DATA_DIR={state}", str(place / "bin" / "cchc-admin"), "backup",
                                   "--out", str(out)), capture_output=True, text=True, timeout=120, check=False)
    assert saved.returncode == 0 and "Đã sao lưu" in saved.stdout, saved.stderr[-2000:]
    assert out.stat().st_uid == database.stat().st_uid  # written by the service user, not root
    assert "CCHC_SECRET_KEY=" not in saved.stdout + saved.stderr


def service_pids(group: int) -> list[int]:
    """The processes of the service's group that run cchc itself (not the sudo or runuser around it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if not argv[0].endswith((b"sudo", b"runuser", b"env")) and any(a.endswith(b"/bin/cchc") for a in argv):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(("line", "value"), [
    ("CCHC_WP_PASSWORD=abcd EFGH 1234 ijkl MNOP 5678", "abcd EFGH 1234 ijkl MNOP 5678"),  # as WordPress shows it
    ("CCHC_X=  spaced value  \t", "spaced value"),  # outer whitespace goes, inner stays
    ("CCHC_X='single $HOME \\n \"x\"'", 'single $HOME \\n "x"'),  # single quotes keep everything
    ('CCHC_X="a \\"b\\" \\\\ \\$c \\q"', 'a "b" \\ $c \\q'),  # double quotes: \" \\ \$ only
    ("CCHC_X=it's a \"token\"", "it's a \"token\""),  # quotes inside an unquoted value are kept
    ("CCHC_X=a\\ b\\\\c", "a b\\c"),  # a backslash takes the next character as it is
    ("CCHC_X=one \\\ntwo", "one two"),  # a backslash at the end: the value goes on
    ('CCHC_X="a"\'b\'c', "abc"),  # parts next to each other are one value
    ("CCHC_X=tok#en ;x", "tok#en ;x"),  # no comment inside a value
    ("CCHC_X=", ""),
])
def test_the_secrets_file_is_read_as_systemd_reads_an_environment_file(line, value):
    assert read_env_file(f"# a comment\n; another\n{line}\n")["CCHC_X" if "CCHC_X" in line else "CCHC_WP_PASSWORD"] \
        == value


def test_lines_systemd_ignores_are_ignored():
    text = "no equals sign here\n1BAD=x\nBAD NAME=y\n  # indented comment = z\nGOOD=1\n# c \\\nCONTINUED=n\n"
    assert read_env_file(text) == {"GOOD": "1"}


def test_cchc_admin_reads_a_password_with_spaces_as_the_service_does(installed):
    """A WordPress application password as WordPress shows it (groups of four, with spaces) in cchc.env: the
    systemd service reads it as one value; cchc-admin, and the root cron's backups through it, must too."""
    place, _ = installed
    secrets = place / "etc" / "cchc.env"
    line = "CCHC_WP_MUONG_LA_PASSWORD=abcd EFGH 1234 ijkl MNOP 5678\n"
    subprocess.run(as_root("sh", "-c", f"printf '%s' '{line}' >> {secrets}"), check=True)
    state = place / "state-admin"
    subprocess.run(as_root("install", "-d", "-o", USER, "-g", USER, "-m", "750", str(state)), check=True)
    listed = subprocess.run(as_root("env", f"CCHC_DATA_DIR={state}", str(place / "bin" / "cchc-admin"), "unit",
                                    "list"), capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0 and "Xã Mường La" in listed.stdout, listed.stderr[-2000:]
    assert "not found" not in listed.stderr and "abcd EFGH" not in listed.stdout + listed.stderr
