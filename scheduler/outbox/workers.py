"""Who is working on a row: this process's name as a worker, and whether the worker that claimed a row may still
be alive. Leases decide for any worker on another machine; a process of this machine can be asked directly."""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(claimed_by: str | None) -> bool:
    """Whether the process that claimed a row may still be working on it.

    Only a process on this machine can be checked; for any other, the lease decides.
    """
    if not claimed_by or ":" not in claimed_by:
        return False
    host, _, pid_text = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
