"""What a run writes, composed first and placed after: plugin files, rewritten models, their external data.

Composing and placing are two steps so that a run can check everything it is about to write (`--frozen` compares
the digests with the manifest) before anything in the output folders changes. A file is either bytes in memory
or, for weights too large to hold (a model's external data), a writer that streams it into place; writers of
`order` 0 run before everything else, so a model is never placed before the data file it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .cache.keys import digest
from .fsutil import atomic_write_bytes, remove_stale_temps


@dataclass(frozen=True)
class OutputFile:
    data: bytes = b""
    executable: bool = False  # shared libraries: 0755 under umask 022, like a linker's output
    # Writes the file at the given path atomically (streamed data, a model checked by path); None: write `data`.
    writer: Callable[[Path], None] | None = field(default=None, compare=False)
    order: int = 1  # placed in increasing order: external data (0) before the models that name it

    @property
    def sha256(self) -> str:
        return digest(self.data)


Outputs = dict[Path, OutputFile]


def place(outputs: Outputs) -> None:
    """Write every composed file, atomically, after removing the temp files a killed run left in those folders.
    A file whose bytes are already there is not touched (a re-apply that changes nothing changes nothing)."""
    for folder in dict.fromkeys(dest.parent for dest in outputs):
        remove_stale_temps(folder)
    for dest, f in sorted(outputs.items(), key=lambda item: item[1].order):
        if f.writer is not None:
            f.writer(dest)
        elif not dest.is_file() or dest.read_bytes() != f.data:
            atomic_write_bytes(dest, f.data, executable=f.executable)


def digests(outputs: Outputs, base: Path) -> dict[str, str]:
    """{path relative to `base`: sha256}, what the manifest records."""
    return {str(path.relative_to(base)): f.sha256 for path, f in outputs.items()}
