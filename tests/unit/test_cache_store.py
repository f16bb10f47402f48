"""The cache store survives what other programs and killed runs leave in it (the store alone, no pipeline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tpat.cache import CacheStore
from tpat.fsutil import remove_stale_temps

def _build(text):
    def body(tmp):
        (tmp / "out.txt").write_text(text)
        return {"n": 1}
    return body


def test_entry_without_entry_json_is_rebuilt(tmp_path, caplog):
    """A folder at an entry's place without entry.json (a crash between tools, a hand copy) once broke every
    later run: the rename into place failed because the folder was there."""
    store = CacheStore(tmp_path)
    entry, built = store.put("s", "ab" * 32, _build("one"))
    assert built
    (entry / "entry.json").unlink()
    assert store.get("s", "ab" * 32) is None and "damaged" in caplog.text
    (entry).mkdir(parents=True, exist_ok=True)
    (entry / "leftover").write_text("x")
    again, built = store.put("s", "ab" * 32, _build("two"))
    assert built and again == entry and (again / "out.txt").read_text() == "two"
    assert not (again / "leftover").exists()


def test_unlisted_file_makes_an_entry_damaged(tmp_path):
    store = CacheStore(tmp_path)
    entry, _ = store.put("s", "cd" * 32, _build("one"))
    (entry / "extra.so").write_bytes(b"not made by tpat")
    assert store.get("s", "cd" * 32) is None
    entry, built = store.put("s", "cd" * 32, _build("one"))
    assert built and sorted(p.name for p in entry.iterdir()) == ["entry.json", "out.txt"]


def test_stale_temps_of_killed_writers_are_removed(tmp_path):
    """Temp names carry host and pid: a dead writer's leftovers go, a live writer's stay."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    from tpat.fsutil import temp_tag

    host = temp_tag().split("-")[0]
    stale = tmp_path / f".model.onnx.{host}-{dead}.abc123.tmp"
    live = tmp_path / f".model.onnx.{temp_tag()}.def456.tmp"
    folder = tmp_path / f".build-0123.{host}-{dead}.xyz.tmp"
    for p in (stale, live):
        p.write_text("half")
    folder.mkdir()
    (folder / "lib.so").write_text("half")
    other = tmp_path / "model.onnx"
    other.write_text("keep")
    removed = remove_stale_temps(tmp_path)
    assert sorted(removed) == sorted([stale, folder])
    assert live.exists() and other.exists()


def test_entries_are_readable_by_others(tmp_path):
    """A shared cache: entry folders are not left at mkdtemp's 0700."""
    old = os.umask(0o022)
    try:
        entry, _ = CacheStore(tmp_path).put("s", "ef" * 32, _build("x"))
    finally:
        os.umask(old)
    assert entry.stat().st_mode & 0o777 == 0o755
    assert json.loads((entry / "entry.json").read_text())["files"]


def test_a_second_writer_never_replaces_an_intact_entry(tmp_path, monkeypatch):
    """Where the locks do not hold (flock over NFS between hosts, two clusters on one cache), two writers of one
    key both build: the first to rename wins, the second drops its copy. It used to delete the first's entry to
    make room, under the feet of a reader of that entry."""
    from contextlib import nullcontext

    from tpat.cache import store as store_module

    monkeypatch.setattr(store_module, "FileMutex", lambda path: nullcontext())  # a lock that does not hold
    key = "ef" * 32
    first = CacheStore(tmp_path)
    placed = {}

    def slow_build(tmp):  # while this writer builds, another one places the same key
        entry, built = CacheStore(tmp_path).put("s", key, _build("same bytes"))
        placed["inode"], placed["built"] = entry.stat().st_ino, built
        (tmp / "out.txt").write_text("same bytes")

    entry, built = first.put("s", key, slow_build)
    assert placed["built"] and built
    assert entry.stat().st_ino == placed["inode"], "the intact entry placed first was replaced"
    assert first.get("s", key) == entry and not list((tmp_path / "tmp").iterdir())


def test_a_key_lock_is_held_around_the_build(tmp_path):
    """The store takes the lock it is given (the Dask executor's scheduler lock) by the entry's name, around the
    build: what makes the dedup hold across hosts."""
    import threading

    held = []

    class Recording:
        def __init__(self, name):
            self.name, self.lock = name, threading.Lock()

        def __enter__(self):
            held.append(("in", self.name))

        def __exit__(self, *exc):
            held.append(("out", self.name))

    store = CacheStore(tmp_path, key_lock=Recording)
    store.put("s", "12" * 32, lambda tmp: held.append(("build", None)) or _build("x")(tmp))
    assert held == [("in", "s-" + "12" * 32), ("build", None), ("out", "s-" + "12" * 32)]
    store.put("s", "12" * 32, _build("x"))  # a hit: no lock taken
    assert len(held) == 3
