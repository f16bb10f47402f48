"""The cache store: `<root>/<stage>/<key[:2]>/<key>/` holding a task's output files and `entry.json`.

Writers build into `<root>/tmp/<random>/` and rename into place under a per-key file mutex, so readers never see
half an entry and two concurrent runs never build one key twice. `entry.json` lists the sha256 of every file: an
entry whose files no longer match (disk damage, a hand edit) is reported, deleted and treated as a miss.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .keys import file_digest
from .mutex import FileMutex

log = logging.getLogger(__name__)
ENTRY = "entry.json"


class CacheStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def get(self, stage: str, key: str) -> Path | None:
        """The entry folder if present and intact, else None (a damaged entry is removed)."""
        path = self.path(stage, key)
        meta = path / ENTRY
        if not meta.is_file():
            return None
        try:
            files = json.loads(meta.read_text())["files"]
            intact = all(file_digest(path / name) == sha for name, sha in files.items())
        except (OSError, ValueError, KeyError, TypeError):
            intact = False
        if intact:
            return path
        log.warning("cache entry %s/%s is damaged (file hashes differ); rebuilding it", stage, key[:12])
        shutil.rmtree(path, ignore_errors=True)
        return None

    def has(self, stage: str, key: str) -> bool:
        return self.get(stage, key) is not None

    def put(self, stage: str, key: str, build: Callable[[Path], dict | None]) -> tuple[Path, bool]:
        """Return (entry folder, built_now). `build(tmp)` writes the outputs into `tmp` and may return metadata."""
        hit = self.get(stage, key)
        if hit is not None:
            return hit, False
        with FileMutex(self.root / "locks" / f"{stage}-{key}.lock"):
            hit = self.get(stage, key)  # another run may have built it while we waited
            if hit is not None:
                return hit, False
            tmp_root = self.root / "tmp"
            tmp_root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f"{stage}-{key[:12]}-", dir=tmp_root))
            try:
                meta = build(tmp) or {}
                files = {p.name: file_digest(p) for p in sorted(tmp.iterdir()) if p.is_file() and p.name != ENTRY}
                (tmp / ENTRY).write_text(json.dumps({"stage": stage, "key": key, "files": files, "meta": meta},
                                                    indent=1, sort_keys=True))
                final = self.path(stage, key)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return final, True

    def meta(self, stage: str, key: str) -> dict:
        return json.loads((self.path(stage, key) / ENTRY).read_text()).get("meta", {})
