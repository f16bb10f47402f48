"""Atomic file writes: temp file in the destination folder, fsync, rename. Readers never see half a file.

Files get the mode any other program of the user would give them (0644 under umask 022; 0755 for libraries):
mkstemp creates 0600, and a rename keeps that mode, which left plugins that trtexec or a server running as another
user could not read or dlopen. Temp names carry the writer's pid, so a run that was killed mid-write leaves files
a later run recognises as stale and removes (`remove_stale_temps`).
"""

from __future__ import annotations

import functools
import os
import re
import socket
import tempfile
import time
from pathlib import Path

_TEMP = re.compile(r"^\..+\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[^.]+\.tmp$")
STALE_AFTER_S = 24 * 3600  # a temp file this old is stale whoever wrote it (another host, a reused pid)


@functools.lru_cache(maxsize=1)
def _host_tag() -> str:
    import hashlib

    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_tag() -> str:
    """`<host>-<pid>`: goes into every temp name this process writes (here and in the cache store)."""
    return f"{_host_tag()}-{os.getpid()}"


def umask() -> int:
    """The process umask, read without changing it where Linux tells it (/proc), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def default_mode(executable: bool = False) -> int:
    """0666 (0777 for executables and libraries) less the umask: what open() and a linker would give."""
    return (0o777 if executable else 0o666) & ~umask()


def atomic_write_bytes(path: Path, data: bytes, executable: bool = False) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{temp_tag()}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), default_mode(executable))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def is_stale(name: str, mtime: float) -> bool:
    """A temp name of ours whose writer is gone: a dead pid on this host, or older than a day anywhere."""
    m = _TEMP.match(name)
    if m is None:
        return False
    if time.time() - mtime > STALE_AFTER_S:
        return True
    return m["host"] == _host_tag() and not pid_alive(int(m["pid"]))


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temp files (and temp folders) that killed writers left in `folder`; returns what went."""
    import shutil

    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        try:
            if not is_stale(p.name, p.lstat().st_mtime):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
        except OSError:
            continue
    return removed
