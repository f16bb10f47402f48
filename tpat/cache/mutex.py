"""An inter-process lock on a file (fcntl): two `tpat apply` runs on one cache never build one key twice at once.

Named `mutex` so it is not confused with the lock *file* (the manifest, `tpat.lock.yaml`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FileMutex:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> "FileMutex":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks until the other writer is done; released if it dies
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
