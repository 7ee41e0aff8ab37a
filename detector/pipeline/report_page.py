"""An alarm as a page a person can open: one self-contained HTML file (inline SVG and CSS, no
script, nothing fetched), from a drift.events alarm and, when the worker writes it, the
report around it.

Per alarmed feature: the segments that drive it; the reference against the current window
(quantile curves for numbers on a signed log scale, share bars for categories; for a model
alarm the cutoff's predictions or errors against the holdout's), the statistic against its
threshold, the window's event-time range; then every check of the partition's latest
evaluation.
"""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT, MARGIN = 560, 260, 46
COLOURS = ("#1f6fb4", "#e07b00")  # reference, current
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2329;
max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .sub{color:#5b6670;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #d5dbe0;padding:4px 10px;text-align:left}
th{background:#f3f5f7} .drifted{color:#b00020;font-weight:600} .ok{color:#1b7f3a}
.chart{margin:8px 0 4px} .legend span{display:inline-block;margin-right:16px}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px}
"""


def _symlog(value: float) -> float:
    return math.copysign(math.log10(1 + abs(value)), value)


def _svg(body: str, label: str) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">{body}</svg>')


def numeric_chart(distribution: dict) -> str:
    """Quantile curves (an ECDF turned sideways) on a signed log10(1 + |x|) axis."""
    levels = [float(level) for level in distribution["labels"]]
    series = [distribution["reference"], distribution["current"]]
    xs = [_symlog(v) for values in series for v in values]
    low, high = min(xs), max(xs)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    w, h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def point(value: float, level: float) -> str:
        return f"{MARGIN + (_symlog(value) - low) / (high - low) * w:.1f},{MARGIN + (1 - level) * h:.1f}"

    body = [f'<rect x="{MARGIN}" y="{MARGIN}" width="{w}" height="{h}" fill="#fafbfc" stroke="#d5dbe0"/>']
    for level in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = MARGIN + (1 - level) * h
        body.append(f'<line x1="{MARGIN}" x2="{MARGIN + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6eaee"/>'
                    f'<text x="{MARGIN - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                    f'{level:g}</text>')
    for exponent in range(math.floor(low), math.ceil(high) + 1):
        value = math.copysign(10 ** abs(exponent) - 1, exponent) if exponent else 0.0
        x = MARGIN + (_symlog(value) - low) / (high - low) * w
        if MARGIN <= x <= MARGIN + w:
            text = "0" if not exponent else f"{'-' if exponent < 0 else ''}10^{abs(exponent)}"
            body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN}" y2="{MARGIN + h}" stroke="#eef1f4"/>'
                        f'<text x="{x:.1f}" y="{MARGIN + h + 16}" font-size="11" '
                        f'text-anchor="middle">{text}</text>')
    for values, colour in zip(series, COLOURS, strict=True):
        points = " ".join(point(v, level) for v, level in zip(values, levels, strict=True))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
    body.append(f'<text x="{MARGIN + w / 2}" y="{HEIGHT - 6}" font-size="11" text-anchor="middle">'
                f'{escape(distribution["feature"])} (signed log scale)</text>'
                f'<text x="12" y="{MARGIN + h / 2}" font-size="11" '
                f'transform="rotate(-90 12 {MARGIN + h / 2})" '
                f'text-anchor="middle">share of values at or below</text>')
    return _svg("".join(body), f"quantiles of {distribution['feature']}")


def categorical_chart(distribution: dict) -> str:
    labels = distribution["labels"]
    row = (HEIGHT - 2 * MARGIN) / max(len(labels), 1)
    left, w = 170, WIDTH - 170 - 60
    top = max(max(distribution["reference"], default=0), max(distribution["current"], default=0), 1e-9)
    body = []
    for i, label in enumerate(labels):
        y = MARGIN + i * row
        body.append(f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" font-size="11" text-anchor="end">'
                    f'{escape(label[:26])}</text>')
        for j, (shares, colour) in enumerate(zip((distribution["reference"], distribution["current"]),
                                                 COLOURS, strict=True)):
            length = shares[i] / top * w
            bar_y = y + 2 + j * (row - 4) / 2
            body.append(f'<rect x="{left}" y="{bar_y:.1f}" width="{length:.1f}" height="{(row - 4) / 2:.1f}" '
                        f'fill="{colour}"/><text x="{left + length + 4:.1f}" '
                        f'y="{bar_y + (row - 4) / 2 - 1:.1f}" '
                        f'font-size="10">{shares[i]:.1%}</text>')
    return _svg("".join(body), f"shares of {distribution['feature']}")


def _legend(distribution: dict) -> str:
    names = (distribution.get("reference_name", "reference"),
             distribution.get("current_name", "current window"))
    return '<div class="legend">' + "".join(
        f'<span><i class="swatch" style="background:{c}"></i>{escape(n)}</span>'
        for n, c in zip(names, COLOURS, strict=True)) + "</div>"


def _results(results: list[dict]) -> str:
    rows = "".join(
        f'<tr><td>{escape(r["feature"])}</td><td>{escape(r["test"])}</td><td>{r["statistic"]:.4g}</td>'
        f'<td>{r["threshold"]:.4g}</td><td class="{"drifted" if r["drifted"] else "ok"}">'
        f'{"drifted" if r["drifted"] else "ok"}</td></tr>' for r in results)
    return ("<table><tr><th>feature</th><th>test</th><th>statistic</th><th>threshold</th>"
            "<th>verdict</th></tr>"
            f"{rows}</table>")


def _episode(episode: dict) -> str:
    impact = episode.get("impact")
    verdict = ("unmeasured (no model estimate)" if episode.get("material") is None else
               f"{'material' if episode['material'] else 'immaterial'}: estimated error band "
               f"{impact:+.0%} against the holdout MAE")
    facts = [("episode", episode["id"]), ("state", episode["state"]),
             ("span (event time)", f"{episode['start_time']} → {episode['end_time']} (its last alarm)"),
             ("offsets", f"{episode['start_offset']:,} → {episode['end_offset']:,}"),
             ("alarms", f"{episode['alarms']:,} ({', '.join(episode['tests'])})"),
             ("peak", f"{episode['peak']:.3g} × its threshold"), ("model cutoffs inside", episode["cutoffs"]),
             ("estimated MAE", None if episode.get("estimated_mae") is None else
              f"{episode['estimated_mae']:.1f} (holdout {episode['holdout_mae']:.1f})"),
             ("impact on the model", verdict)]
    return ("<h2>Episode</h2><p class=\"sub\">A run of alarms on one feature of one partition; below, "
            "its peak alarm.</p><table>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
                                                     for k, v in facts if v is not None) + "</table>")


def render(alarm: dict, report: dict | None = None, episode: dict | None = None) -> str:
    """The page for an alarm (a drift.events message as a dict), with the worker's report
    around it when there is one, and the episode it belongs to when given."""
    first = alarm["results"][0]
    window = alarm["window"]
    title = f"{first['feature']} / {first['test']}: {alarm['detector']} drift alarm"
    if episode is not None:
        title = f"{episode['feature']}: drift episode of {episode['alarms']:,} alarm(s)"
    facts = [("raised", alarm.get("emitted_at")), ("worker", alarm.get("worker")),
             ("input partition", alarm.get("partition")), ("model version", alarm.get("model_version")),
             ("window (event time)", f"{window.get('event_time_start')} → {window.get('event_time_end')}"),
             ("window", f"{window['size']} events in {window['panes']} pane(s); "
                        f"{window['events_processed']:,} events seen by the partition")]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
             f'<p class="sub">driftstream — statistic {first["statistic"]:.4g} against threshold '
             f'{first["threshold"]:.4g}</p><table>'
             + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
                       for k, v in facts if v is not None)
             + "</table>" + (_episode(episode) if episode is not None else "")
             + "<h2>Alarm</h2>" + _results(alarm["results"])]
    if alarm.get("segments"):
        rows = "".join(f"<tr><td>{escape(g['kind'])}</td><td>{escape(g['name'])}</td>"
                       f"<td>{g['contribution']:+.3f}</td><td>{g['count']}</td></tr>"
                       for g in alarm["segments"])
        parts.append("<h2>Where it comes from</h2><p class=\"sub\">Each segment's part in the statistic "
                     "(they add up to it): the segments that drive the alarm, most first.</p><table><tr>"
                     "<th>segment</th><th>name</th><th>part</th><th>values in the window</th></tr>"
                     f"{rows}</table>")
    for distribution in alarm.get("distributions") or []:
        chart = numeric_chart if distribution["numeric"] else categorical_chart
        parts.append(f"<h2>{escape(distribution['feature'])}: "
                     f"{escape(distribution.get('reference_name', ''))} "
                     f"against {escape(distribution.get('current_name', ''))}</h2>{_legend(distribution)}"
                     f"{chart(distribution)}")
    latest = (report or {}).get("latest_evaluation")
    if latest:
        parts.append(f"<h2>Every check of partition {latest['partition']}'s latest evaluation</h2>"
                     + _results(latest["results"]))
    if report and report.get("alpha_per_test") is not None:
        parts.append(f"<p class=\"sub\">Level per window test α = {report['alpha_per_test']:.3g} (the "
                     "false-alarm budget split over tests and pane evaluations).</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
