"""The trainer on the real data: better than naive, loadable anywhere, clear about bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest
from services import base_env, read_topic, replay

ROOT = Path(__file__).resolve().parents[1]


def train(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=env)


@pytest.fixture(scope="module")
def trained(data_path, tmp_path_factory) -> Path:
    models = tmp_path_factory.mktemp("models")
    result = train("--data", str(data_path), "--models-dir", str(models), "--publish", "false")
    assert result.returncode == 0, result.stderr
    return models


def test_holdout_beats_the_naive_baseline(trained: Path) -> None:
    version = (trained / "latest").read_text().strip()
    metadata = orjson.loads((trained / version / "metadata.json").read_bytes())
    assert metadata["version"] == version
    holdout = metadata["holdout"]
    assert holdout["mae"] < holdout["baseline_mae"]
    assert set(holdout) >= {"mae", "rmse", "r2", "baseline_mae"}
    assert metadata["test_cutoff"] > max(metadata["train_cutoffs"])
    assert {"recency_days", "frequency", "monetary", "tenure_days", "basket_size", "returns_share"} \
        <= set(metadata["features"])
    assert set(metadata["libraries"]) >= {"scikit-learn", "numpy", "pandas", "joblib"}
    assert metadata["data_window"]["rows"] == 541_909


def test_artifacts_load_with_joblib_in_a_fresh_process(trained: Path) -> None:
    path = trained / (trained / "latest").read_text().strip()
    code = (
        "import joblib, numpy as np, sys\n"
        f"model = joblib.load({str(path / 'clv_model.pkl')!r})\n"
        f"scaler = joblib.load({str(path / 'scaler.pkl')!r})\n"
        "x = np.zeros((3, scaler.n_features_in_))\n"
        "print(len(model.predict(scaler.transform(x))))\n"
        f"profile = np.load({str(path / 'reference_profile.npz')!r})\n"
        "print(sorted(profile.files))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "3"
    assert "train_predictions" in result.stdout and "holdout_errors" in result.stdout
    assert "quantity" in result.stdout and "country" in result.stdout


def test_the_fit_uses_one_openmp_thread(data_path) -> None:
    """Beside a busy worker, a pool of one spinning OpenMP thread per core slows a fit 26-fold
    (bench/fit_threads.py): every step of the fit runs with one."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from producer.data import load_online_retail
    from trainer.train import fit

    def openmp_threads() -> int:
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")

    frame = load_online_retail(data_path)
    frame = frame[frame["InvoiceDate"] < "2011-04-01"]
    pools: list[int] = []
    with threadpool_limits(2):  # a caller with a pool of two
        fit(frame, 14, progress=lambda _: pools.append(openmp_threads()))
        assert openmp_threads() == 2  # the caller's pool is its own again
    assert len(pools) >= 4 and set(pools) == {1}


def test_file_without_the_needed_columns(tmp_path: Path) -> None:
    pd.DataFrame({"InvoiceNo": ["1"], "Quantity": [3]}).to_csv(tmp_path / "x.csv", index=False)
    result = train("--data", str(tmp_path / "x.csv"), "--models-dir", str(tmp_path), "--publish", "false")
    assert result.returncode == 2
    assert "lacks the UCI column(s)" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2011-10-01"], "too little"),
    (["--since", "2030-01-01"], "no rows between"),
    (["--horizon-days", "3"], "horizon_days"),
])
def test_bad_ranges_are_clear_errors(data_path, tmp_path, args: list, message: str) -> None:
    result = train("--data", str(data_path), "--models-dir", str(tmp_path), "--publish", "false", *args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


@pytest.mark.kafka
def test_trains_from_the_topic_and_announces_the_model(kafka_bootstrap, topics, data_path, tmp_path) -> None:
    env = base_env(kafka_bootstrap, topics)
    empty = train("--from-topic", "true", "--models-dir", str(tmp_path), env=env)
    assert empty.returncode == 2 and "does not exist" in empty.stderr
    # The first 250,000 rows in time order (to July 2011): enough weekly cutoffs for H = 14.
    result = replay(env, "--data", str(data_path), "--order", "time", "--limit", "250000")
    assert result.returncode == 0, result.stderr
    result = train("--from-topic", "true", "--models-dir", str(tmp_path), "--horizon-days", "14", env=env)
    assert result.returncode == 0, result.stderr
    version = (tmp_path / "latest").read_text().strip()
    metadata = orjson.loads((tmp_path / version / "metadata.json").read_bytes())
    assert metadata["source"] == f"topic {topics['TRANSACTIONS_TOPIC']}"
    assert metadata["data_window"]["rows"] == 250_000
    updates = read_topic(kafka_bootstrap, topics["MODEL_UPDATES_TOPIC"])
    assert [(m.key(), orjson.loads(m.value())["version"]) for m in updates] == [(b"clv", version)]
