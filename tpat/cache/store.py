"""The cache store: `<root>/<stage>/<key[:2]>/<key>/` holding a task's output files and `entry.json`.

Writers build into `<root>/tmp/<random>/` and rename into place under a per-key file mutex, so readers never see
half an entry and two concurrent runs never build one key twice. `entry.json` lists the sha256 of every file: an
entry whose files no longer match (disk damage, a hand edit) is reported, deleted and treated as a miss.

A file mutex holds between the processes of one machine; over NFS, between hosts, flock is not to be trusted. A
store may get a `key_lock` as well (the Dask executor passes the scheduler's lock, which holds cluster-wide), taken
before the file mutex. Should both fail (two clusters on one cache), two writers of a key both build: the first
rename wins and the second writer drops its copy (same key, same bytes), so an intact entry is never replaced.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from contextlib import AbstractContextManager, nullcontext
from typing import Callable

from ..fsutil import default_mode, remove_stale_temps, temp_tag
from .keys import file_digest
from .mutex import FileMutex

log = logging.getLogger(__name__)
ENTRY = "entry.json"


class CacheStore:
    def __init__(self, root: Path, key_lock: Callable[[str], AbstractContextManager] | None = None):
        self.root = Path(root)
        self.key_lock = key_lock  # name -> a lock held across hosts (e.g. distributed.Lock), around the file mutex

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def get(self, stage: str, key: str) -> Path | None:
        """The entry folder if present and intact, else None (a damaged entry is removed).

        Intact means: `entry.json` lists exactly the files present, each with its sha256. A missing `entry.json`
        (a folder left by hand or by another tool), a changed file or an unlisted one all count as damage: the
        outputs are copied from entries, so nothing unlisted may ever reach them."""
        path = self.path(stage, key)
        if not path.exists():
            return None
        try:
            files = json.loads((path / ENTRY).read_text())["files"]
            present = {p.name for p in path.iterdir()} - {ENTRY}
            intact = present == set(files) and all(file_digest(path / name) == sha for name, sha in files.items())
        except (OSError, ValueError, KeyError, TypeError):
            intact = False
        if intact:
            return path
        log.warning("cache entry %s/%s is damaged (missing entry.json, or files that differ from it); "
                    "rebuilding it", stage, key[:12])
        shutil.rmtree(path, ignore_errors=True)
        return None

    def files(self, stage: str, key: str) -> list[str]:
        """The names `entry.json` lists for an intact entry: what may be copied out of it."""
        return sorted(json.loads((self.path(stage, key) / ENTRY).read_text())["files"])

    def has(self, stage: str, key: str) -> bool:
        return self.get(stage, key) is not None

    def put(self, stage: str, key: str, build: Callable[[Path], dict | None]) -> tuple[Path, bool]:
        """Return (entry folder, built_now). `build(tmp)` writes the outputs into `tmp` and may return metadata."""
        hit = self.get(stage, key)
        if hit is not None:
            return hit, False
        name = f"{stage}-{key}"
        with self.key_lock(name) if self.key_lock else nullcontext(), FileMutex(self.root / "locks" / f"{name}.lock"):
            hit = self.get(stage, key)  # another run may have built it while we waited
            if hit is not None:
                return hit, False
            tmp_root = self.root / "tmp"
            tmp_root.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(tmp_root)  # what killed runs left behind
            tmp = Path(tempfile.mkdtemp(prefix=f".{stage}-{key[:12]}.{temp_tag()}.", suffix=".tmp", dir=tmp_root))
            try:
                meta = build(tmp) or {}
                for sub in [p for p in tmp.iterdir() if p.is_dir()]:  # scratch folders (a tuner's logs)
                    shutil.rmtree(sub)
                files = {p.name: file_digest(p) for p in sorted(tmp.iterdir()) if p.is_file() and p.name != ENTRY}
                (tmp / ENTRY).write_text(json.dumps({"stage": stage, "key": key, "files": files, "meta": meta},
                                                    indent=1, sort_keys=True))
                final = self.path(stage, key)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, default_mode(executable=True))  # mkdtemp's 0700 would hide a shared cache
                if not self._place(tmp, final, stage, key):
                    shutil.rmtree(tmp, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return final, True

    def _place(self, tmp: Path, final: Path, stage: str, key: str) -> bool:
        """Rename `tmp` to `final`; False when another writer placed an intact entry first (the locks did not
        hold: NFS without flock, two clusters): that one stays, readers may be using it."""
        if final.exists():
            if self.get(stage, key) is not None:
                return False
            shutil.rmtree(final, ignore_errors=True)  # damaged or half-deleted: make room
        try:
            os.replace(tmp, final)
        except OSError:  # a folder appeared in between (renaming onto a non-empty folder fails)
            if self.get(stage, key) is not None:
                return False
            raise
        return True

    def meta(self, stage: str, key: str) -> dict:
        return json.loads((self.path(stage, key) / ENTRY).read_text()).get("meta", {})
