"""latest_drift_report.json: the last alarm and the full evaluation around it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson

REPORT_NAME = "latest_drift_report.json"


def write_report(reports_dir: Path, report: dict) -> Path:
    """Write atomically (temp file + rename) so readers never see half a report."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    target = reports_dir / REPORT_NAME
    fd, tmp = tempfile.mkstemp(dir=reports_dir, prefix=".report-", suffix=".json")
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    os.replace(tmp, target)
    return target
