"""Attribution: the segments that drive an alarm, their parts adding up to the statistic."""

from __future__ import annotations

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from detector.drift.attribution import attribute
from detector.drift.checks import Verdict
from detector.drift.checks.ks import ks_gap
from detector.drift.monitor import MonitorConfig
from detector.drift.reference import Reference
from detector.metrics import Metrics
from detector.pipeline.messages import Message
from detector.pipeline.pipeline import Pipeline
from producer import data, scenarios
from producer.replay import encode_rows
from schemas.features import from_frame


def test_the_parts_add_up_to_the_ks_gap(data_path) -> None:
    frame = data.arrange(data.load_online_retail(data_path), "shuffled", 1, limit=22_000)
    cols = from_frame(frame)
    reference = Reference.from_columns({k: v[:20_000] for k, v in cols.items()})
    window = {k: v[20_000:20_200] for k, v in cols.items()}
    window["quantity"] = window["quantity"] * 3  # a shift, so the gap is not noise
    gap, _, _ = ks_gap(reference.numeric["quantity"], window["quantity"])
    verdict = Verdict("quantity", "ks", abs(gap), 0.1, True)
    for kind in ("country", "stock_code"):
        parts = [s for s in attribute(verdict, reference, window, top=10_000) if s.kind == kind]
        assert abs(sum(s.contribution for s in parts) - gap) < 1e-12
        assert all(s.contribution * gap >= parts[-1].contribution * gap for s in parts)  # most first


def test_out_of_range_values_are_traced_to_their_segment() -> None:
    rng = np.random.default_rng(4)
    n = 5_000

    def columns(values: np.ndarray, countries: list[str]) -> dict:
        return {"quantity": values, "unit_price": values, "line_total": values,
                "country": np.array(countries, dtype=object),
                "stock_code": np.array(["A"] * values.size, dtype=object)}

    flags = {"cancellation": np.zeros(n, bool), "customer_missing": np.zeros(n, bool)}
    reference = Reference.from_columns({**columns(rng.normal(size=n), ["UK"] * n), **flags})
    values = rng.normal(size=200)
    values[:12] = 99.0  # out of range, all from Norway
    window = columns(values, ["Norway"] * 12 + ["UK"] * 188)
    for verdict in (Verdict("quantity", "out_of_range", 0.06, 0.02, True),
                    Verdict("quantity", "tail", 9.0, 1.0, True)):
        first = attribute(verdict, reference, window)[0]
        assert (first.kind, first.name, first.contribution, first.count) == ("country", "Norway", 0.06, 12)


def test_a_price_point_that_moved_is_traced_to_the_country_that_moved_it() -> None:
    rng = np.random.default_rng(5)
    points, countries = np.array([1.25, 0.85, 2.08]), np.array(["UK", "UK", "Germany", "France"])

    def columns(n: int) -> dict:
        return {"unit_price": rng.choice(points, n), "country": rng.choice(countries, n),
                "stock_code": np.array(["A"] * n, dtype=object)}

    reference = Reference.from_columns({**columns(10_000), "quantity": np.ones(10_000),
                                        "line_total": np.ones(10_000), "cancellation": np.zeros(10_000, bool),
                                        "customer_missing": np.zeros(10_000, bool)})
    window = columns(200)
    german = window["country"] == "Germany"
    window["unit_price"] = np.where(german, np.round(window["unit_price"] * 1.01, 2), window["unit_price"])
    parts = attribute(Verdict("unit_price", "values", 2.0, 1.0, True), reference, window, top=10)
    by_country = [s for s in parts if s.kind == "country"]
    assert by_country[0].name == "Germany"
    # the parts add up to the move of the share of the value that moved most
    values = np.union1d(points, window["unit_price"])
    moves = [np.mean(window["unit_price"] == v) - np.mean(reference.numeric["unit_price"] == v)
             for v in values]
    biggest = moves[int(np.argmax(np.abs(moves)))]
    assert abs(sum(s.contribution for s in by_country) - biggest) < 1e-12


def test_a_one_country_stream_is_traced_to_that_country(data_path, tmp_path) -> None:
    """After the onset only German rows: the country alarm names Germany first."""
    frame = data.arrange(data.load_online_retail(data_path), "shuffled", 3, limit=40_000)
    drifted, onset = scenarios.apply(frame, scenarios.Scenario("one-country", 30_000), seed=3)
    messages = [Message(k, v, [], "tx", 0, i) for i, (k, v) in enumerate(encode_rows(drifted))]
    registry = CollectorRegistry()
    pipeline = Pipeline(MonitorConfig(reference_size=20_000), Metrics(registry), tmp_path)
    alarms = []
    for start in range(0, len(messages), 500):
        alarms += [e for e in (orjson.loads(v) for _, v in pipeline.process(messages[start:start + 500])
                               .drift_events) if e["kind"] == "alarm"]
    assert alarms and all(a["window"]["events_processed"] > onset for a in alarms)
    country = [a for a in alarms if a["results"][0]["feature"] == "country"]
    assert country and all(a["segments"][0]["name"] == "Germany" for a in country)
    shown = registry.get_sample_value("clv_drift_segment_score", {"feature": "country",
                                                                  "segment": "category=Germany"})
    assert shown == country[-1]["segments"][0]["contribution"] > 0
    numeric = [a for a in alarms if a["results"][0]["feature"] in ("quantity", "unit_price", "line_total")]
    for alarm in numeric:  # a numeric alarm's parts: the UK's missing mass, Germany's new values
        assert {s["name"] for s in alarm["segments"] if s["kind"] in ("country", "category")} & \
            {"Germany", "United Kingdom"}


def test_an_alarms_reference_quantiles_are_numpys() -> None:
    """The picture's reference quantiles come from the sorted reference without re-sorting it:
    the same numbers as np.quantile, for any size and dtype."""
    from detector.pipeline.distributions import LEVELS, sorted_quantiles

    rng = np.random.default_rng(7)
    for size in (1, 2, 3, 40, 41, 1001, 200_000):
        for values in (rng.lognormal(size=size), rng.integers(-5, 50, size=size)):
            values = np.sort(values)
            assert np.array_equal(sorted_quantiles(values), np.quantile(values, LEVELS))


def test_a_reference_slices_segment_counts_are_bincounts() -> None:
    """The running counts give exactly np.bincount of any slice of a reference's segments."""
    from detector.drift import attribution

    rng = np.random.default_rng(11)
    for size in (1, 4095, 4096, 4097, 50_001):
        segments = rng.choice(np.array([f"s{i}" for i in range(300)], dtype=object), size)
        names, codes, _ = attribution._encoded(segments)
        for start, stop in [(0, size), (0, 0), (size, size), *(sorted(rng.integers(0, size + 1, 2))
                                                                 for _ in range(200))]:
            assert np.array_equal(attribution._counts(codes, names.size, start, stop),
                                  np.bincount(codes[start:stop], minlength=names.size))
