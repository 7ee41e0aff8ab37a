"""Rewrite the README's Configuration table from the settings classes (a test keeps them equal).

    python tools/settings_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector.runtime.settings import DetectorSettings  # noqa: E402
from producer.settings import ProducerSettings  # noqa: E402
from schemas.batch_metrics import PushSettings  # noqa: E402
from schemas.settings import settings_of, shown_default  # noqa: E402
from schemas.topics import KafkaSettings  # noqa: E402
from trainer.settings import TrainerSettings  # noqa: E402

CLASSES = (KafkaSettings, PushSettings, DetectorSettings, ProducerSettings, TrainerSettings)


def table() -> list[str]:
    rows = ["| env var | default | meaning |", "|---|---|---|"]
    for cls in CLASSES:
        for s in settings_of(cls):
            default = shown_default(s.field)
            shown = "—" if default is None else f"`{default}`"
            rows.append(f"| `{s.env}` | {shown} | {s.field.description} |")
    return rows


def main() -> None:
    readme = ROOT / "README.md"
    head, rest = readme.read_text().split("## Configuration", 1)
    body, tail = rest.split("\n## ", 1)
    lines = body.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| env var"))
    last = max(i for i, line in enumerate(lines) if line.startswith("|"))
    lines[first:last + 1] = table()
    readme.write_text(head + "## Configuration" + "\n".join(lines) + "\n\n## " + tail)


if __name__ == "__main__":
    main()
