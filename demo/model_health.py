"""The demo's time-ordered phase, as a person would read it: drift episodes and whether they
mattered, estimated against realised error per cutoff, and which alerts would have paged."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table

from detector.model.config import IMPACT_SIGNALS

SHOWN_CUTOFFS = 8


def cutoff_table(events: list[dict]) -> Table:
    """Per cutoff, over partitions (customer-weighted): estimated MAE with its band, realised MAE
    once scored, the holdout's."""
    by_cutoff: dict[str, dict] = defaultdict(dict)
    for e in events:
        if e.get("model_error") and e["results"][0]["test"] in ("estimated", "realised"):
            figures = next(m for m in e["model_error"] if m["population"] == "all")
            key = (e["partition"], e["results"][0]["test"])
            by_cutoff[e["window"]["event_time_start"][:10]][key] = figures
    table = Table(title="model error per cutoff (all customers): estimated before labels, realised after")
    for column in ("cutoff", "customers", "estimated MAE [95 % band]", "realised MAE", "holdout MAE"):
        table.add_column(column)
    for cutoff in sorted(by_cutoff)[-SHOWN_CUTOFFS:]:
        parts = by_cutoff[cutoff]
        estimated = [f for (_, test), f in parts.items() if test == "estimated"]
        realised = [f for (_, test), f in parts.items()
                    if test == "realised" and f["realised_mae"] is not None]
        n = sum(f["customers"] for f in estimated) or 1
        mean = sum(f["customers"] * (f["estimated_mae"] or 0) for f in estimated) / n
        low = sum(f["customers"] * (f["estimated_low"] or 0) for f in estimated) / n
        high = sum(f["customers"] * (f["estimated_high"] or 0) for f in estimated) / n
        scored = sum(f["customers"] for f in realised)
        real = (f"{sum(f['customers'] * f['realised_mae'] for f in realised) / scored:.1f}" if scored
                else "labels not due yet")
        holdout = next((f["holdout_mae"] for f in estimated if f["holdout_mae"] is not None), None)
        table.add_row(cutoff, f"{n:,}", f"{mean:.1f} [{low:.1f}, {high:.1f}]", real,
                      f"{holdout:.1f}" if holdout is not None else "—")
    return table


class ModelErrorUp:
    """The ModelErrorUp page replayed from drift.events: ``observe`` is True at each rising edge
    of "some partition's estimated, so-far or realised error was above the margin for
    ``impact_cutoffs`` cutoffs in a row" (the alert rule's max over the workers'
    clv_model_impact_material); as in the tracker, an older cutoff judged after a newer one
    moves no streak."""

    def __init__(self, impact_cutoffs: int) -> None:
        self.impact_cutoffs = impact_cutoffs
        self.streak: dict[tuple[int, str], int] = {}
        self.judged: dict[tuple[int, str], str] = {}  # the newest cutoff judged: streaks run in cutoff order
        self.firing = False

    def observe(self, event: dict) -> bool:
        if not (event.get("model_error") and event["results"][0]["test"] in IMPACT_SIGNALS):
            return False
        result = event["results"][0]
        key = (event["partition"], result["test"])
        cutoff = event["window"]["event_time_start"]
        if cutoff <= self.judged.get(key, ""):
            return False
        self.judged[key] = cutoff
        self.streak[key] = self.streak.get(key, 0) + 1 if result["drifted"] else 0
        now = any(n >= self.impact_cutoffs for n in self.streak.values())
        rising, self.firing = now and not self.firing, now
        return rising


def pages(events: list[dict], impact_cutoffs: int) -> list[str]:
    """The pages the alert rules would have sent: ModelErrorUp at each rising edge of any
    partition's impact streak reaching ``impact_cutoffs``; InputBreakage for tail episodes."""
    out, model_error = [], ModelErrorUp(impact_cutoffs)
    for e in events:
        if e["kind"] == "episode_open" and e["episode"]["tests"] == ["tail"]:
            out.append(f"InputBreakage: {e['episode']['feature']} at {e['episode']['start_time']}")
        elif model_error.observe(e):
            result = e["results"][0]
            out.append(f"ModelErrorUp ({result['test']}): cutoff {e['window']['event_time_start'][:10]}, "
                       f"error band {result['statistic']:+.0%} against the holdout")
    return out


def summarise(console: Console, events: list[dict], impact_cutoffs: int) -> None:
    alarms = [e for e in events if e["kind"] == "alarm" and e["detector"] == "data"]
    closed = [e["episode"] for e in events if e["kind"] == "episode_close"]
    opened = sum(e["kind"] == "episode_open" for e in events)
    material = sum(bool(c["material"]) for c in closed)
    console.print(f"data: {len(alarms):,} alarms in {opened:,} drift episodes (per partition and feature); "
                  f"{len(closed):,} closed, {material} of them material (the model's estimated error up by "
                  f"the margin), {sum(c['material'] is None for c in closed)} unmeasured (before the "
                  "model's first cutoff)")
    console.print(cutoff_table(events))
    sent = pages(events, impact_cutoffs)
    console.print(f"pages a person would have received: {len(sent)}" + ("" if sent else
                  " — the alarms above are information (DataDriftEpisode), not pages"))
    for line in sent[:10]:
        console.print(f"  • {line}")
