"""Writing the results: one JSON feedback file per student and one CSV for the whole batch."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def write_feedback(folder: Path, feedback: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{feedback['student']}.json"
    path.write_text(json.dumps(feedback, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n",
                    encoding="utf-8")
    return path


def write_csv(path: Path, questions: list[str], feedbacks: list[dict]) -> None:
    """Columns: student, one per question (points), total, max."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *questions, "total", "max"])
        for fb in feedbacks:
            points = [_number(fb["questions"][q]["points"]) for q in questions]
            writer.writerow([fb["student"], *points, _number(fb["score"]), _number(fb["max_score"])])


def _number(x: float) -> str:
    return f"{x:g}"
