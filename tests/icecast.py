"""A throwaway Icecast 2.4 server for the tests, from Debian's ``icecast2`` package (the set-up
installs it). It listens on a free loopback port with its own passwords; as root it runs as the
package's ``icecast2`` user, because Icecast refuses to run as root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.pg import _free_port

CONFIG = """<icecast>
  <location>test</location><admin>test@localhost</admin><hostname>127.0.0.1</hostname>
  <limits><clients>20</clients><sources>4</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout><burst-on-connect>1</burst-on-connect><burst-size>65535</burst-size></limits>
  <authentication><source-password>{password}</source-password><relay-password>{password}</relay-password>
    <admin-user>admin</admin-user><admin-password>{password}</admin-password></authentication>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>{mounts}
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{folder}</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>
"""


class IcecastServer:
    def __init__(self, password: str, *, mounts: str = "") -> None:
        """``mounts``: ``<mount>`` elements to add (e.g. a fallback mount), as in a station's icecast.xml."""
        if shutil.which("icecast2") is None:
            raise RuntimeError("icecast2 is missing: run scripts/setup.sh --test (installs Debian's icecast2)")
        self.password, self.mounts = password, mounts
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="cchc-icecast-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.folder / "icecast.xml"
        config.write_text(CONFIG.format(password=self.password, port=self.port, folder=self.folder, mounts=self.mounts))
        command = ["icecast2", "-c", str(config)]
        if os.geteuid() == 0:
            shutil.chown(self.folder, "icecast2")
            shutil.chown(config, "icecast2")
            command = ["runuser", "-u", "icecast2", "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"icecast2 did not start: {self.process.stderr.read().decode()}") from None
                time.sleep(0.1)
        raise RuntimeError("icecast2 did not open its port in 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
