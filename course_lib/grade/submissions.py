"""Finding the submissions of a batch and reading them all into memory before any of them runs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 50 << 20  # a notebook larger than this is refused unread


@dataclass
class Submission:
    student: str
    path: Path
    data: bytes | None  # None when the file could not be read
    error: str = ""

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else None


def discover(target: Path, set_name: str) -> list[Submission]:
    """The submissions in ``target``: one notebook, or a folder of them.

    In a folder, each ``*.ipynb`` is one student (named by the file's stem), and each subfolder
    is one student (named by the folder) whose notebook is ``<set>.ipynb`` or its only notebook.
    """
    target = Path(target)
    if target.is_file():
        return [_read(target.stem, target)]
    if not target.is_dir():
        raise FileNotFoundError(f"no notebook or folder at {target}")
    found = []
    for entry in sorted(target.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.append(_read(entry.stem, entry))
        elif entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            named = [p for p in notebooks if p.name == f"{set_name}.ipynb"]
            chosen = named[:1] or (notebooks if len(notebooks) == 1 else [])
            if chosen:
                found.append(_read(entry.name, chosen[0]))
            else:
                why = "no notebook" if not notebooks else f"{len(notebooks)} notebooks and none named {set_name}.ipynb"
                found.append(Submission(entry.name, entry, None, f"submission folder with {why}"))
    return _unique(found)


def _read(student: str, path: Path) -> Submission:
    try:
        if path.stat().st_size > MAX_BYTES:
            return Submission(student, path, None, f"the notebook is larger than {MAX_BYTES >> 20} MB")
        return Submission(student, path, path.read_bytes())
    except OSError as exc:
        return Submission(student, path, None, f"the file cannot be read ({exc.strerror})")


def _unique(submissions: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    for sub in submissions:
        # File-name safe, and no leading = + - @ that a spreadsheet would run as a formula.
        base = re.sub(r"[^A-Za-z0-9_.@+-]", "_", sub.student).lstrip("=+-@") or "student"
        seen[base] = seen.get(base, 0) + 1
        sub.student = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return submissions
