"""How many OpenMP threads a fit should use: the trainer's fit on the rows before --until
(H = 14 days), timed with the boosting's default pool (one thread per core) and with one
thread, alone and beside one busy process (a second Python spinning on a core, as a worker
beside the trainer does). Wall and CPU seconds each, one after another in one run.

    python bench/fit_threads.py --until 2011-04-15
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from fleet import DATA  # also puts the repository on the path

from producer.data import load_online_retail
from trainer.train import fit


def timed(frame, threads: int | None) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fit(frame, 14, openmp_threads=threads)  # None: the library's default pool
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--until", default="2011-04-15", help="train on the rows before this day")
    args = parser.parse_args()
    frame = load_online_retail(Path(args.data))
    frame = frame[frame["InvoiceDate"] < args.until].reset_index(drop=True)
    print(f"{len(frame):,} rows before {args.until}, {os.cpu_count()} cores")
    print("| OpenMP threads | beside | wall s | CPU s |\n|---|---|---|---|")
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            for threads, name in ((None, "default (one per core)"), (1, "1")):
                wall, cpu = timed(frame, threads)
                print(f"| {name} | {'one busy process' if busy else 'nothing'} | {wall:.1f} | {cpu:.1f} |",
                      flush=True)
        finally:
            if hog:
                hog.kill()
                hog.wait()


if __name__ == "__main__":
    main()
