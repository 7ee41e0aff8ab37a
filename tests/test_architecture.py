"""The tree shows the architecture: which package may import which, and module sizes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "producer", "detector", "trainer", "demo")
# Who may import whom (besides itself): one direction only, so no cycle can form.
ALLOWED = {
    "schemas": set(),
    "producer": {"schemas"},
    "detector": {"schemas"},
    "trainer": {"schemas", "producer"},
    "demo": {"schemas", "producer", "detector", "trainer"},
}


def imports(package: str) -> dict[str, set[str]]:
    """Our top-level packages each module of ``package`` imports."""
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = (names & set(PACKAGES)) - {package}
    return found


def test_packages_import_in_one_direction() -> None:
    wrong = {module: sorted(used - ALLOWED[package])
             for package in PACKAGES for module, used in imports(package).items() if used - ALLOWED[package]}
    assert wrong == {}


def test_detector_folders_by_role() -> None:
    roles = {p.name for p in (ROOT / "detector").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert roles == {"runtime", "pipeline", "drift", "model"}


def test_modules_stay_small() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for package in (*PACKAGES, "tests", "bench") for p in (ROOT / package).rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_the_faust_process_starts_without_the_statistics_libraries() -> None:
    # The worker's Faust process reads settings and runs the consumer; scikit-learn, scipy,
    # pandas and river (3 s of imports) belong to the pipeline process, which imports them while
    # the Faust process checks the broker. Every worker start (and restart) pays the difference.
    code = ("import sys, detector.runtime.cli, detector.runtime.worker, detector.runtime.app; "
            "print(' '.join(sorted({'sklearn', 'scipy', 'pandas', 'river'} & set(sys.modules))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
