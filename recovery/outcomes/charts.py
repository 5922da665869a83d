"""Geometry of the dashboard's charts, drawn server-side as SVG — pure functions, no ORM, no JavaScript.

Each function takes the plain metrics data (recovery.outcomes.metrics) and returns shapes with
coordinates and a text description per mark; the templates only place them. Every chart has the
same numbers in a table next to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recovery.outcomes.learning import THIN_N

# CSS classes keep their old names (the colours of the two complainer groups did not change).
SERIES = (
    ("offered", "Offered a gesture", "s-recovered"),
    ("not_offered", "Not offered a gesture", "s-unrecovered"),
    ("never_complained", "Never complained (context)", "s-never"),
)
TICKS = (0, 25, 50, 75, 100)


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.0%}"


def describe(label: str, rate: Mapping[str, Any]) -> str:
    """'Offered a gesture: 73% came back (88 of 120; 95% interval 64–80%)', flagged when too few to tell."""
    if not rate["customers"]:
        return f"{label}: no settled windows yet"
    text = (
        f"{label}: {_pct(rate['rate'])} came back ({rate['returned']:,} of {rate['customers']:,}; "
        f"95% interval {rate['low']:.0%}–{rate['high']:.0%})"
    )
    return text + (" — too few to tell" if rate.get("thin") else "")


def _y(value: float, top: float, height: float) -> float:
    return round(top + height * (1 - value), 1)


def _axis(top: float, height: float, left: float, right: float) -> list[dict[str, Any]]:
    return [{"y": _y(t / 100, top, height), "x1": left, "x2": right, "label": f"{t}%"} for t in TICKS]


def headline_chart(windows: Sequence[Mapping[str, Any]], *, width: int = 640, height: int = 280) -> dict[str, Any]:
    """Grouped bars: for each window, the return rate of the three groups with 95% interval whiskers."""
    left, right, top, bottom = 44, 12, 14, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    group_w = plot_w / max(len(windows), 1)
    bar_w = min(44.0, group_w * 0.7 / len(SERIES))
    groups = []
    for index, window in enumerate(windows):
        x0 = left + group_w * index + (group_w - bar_w * len(SERIES)) / 2
        bars = []
        for position, (key, label, css) in enumerate(SERIES):
            rate = window[key]
            x = round(x0 + bar_w * position, 1)
            bar: dict[str, Any] = {"x": x, "w": round(bar_w - 4, 1), "css": css, "title": describe(label, rate)}
            bar["cx"] = round(x + bar["w"] / 2, 1)
            if rate["rate"] is None:
                bar.update({"empty": True, "label_y": _y(0, top, plot_h) - 4, "label": "–"})
            else:
                y = _y(rate["rate"], top, plot_h)
                bar.update(
                    {
                        "empty": False,
                        "y": y,
                        "h": round(top + plot_h - y, 1),
                        "low_y": _y(rate["low"], top, plot_h),
                        "high_y": _y(rate["high"], top, plot_h),
                        "label": _pct(rate["rate"]),
                        "label_y": round(min(y, _y(rate["high"], top, plot_h)) - 6, 1),
                    }
                )
            bars.append(bar)
        groups.append(
            {"label": f"within {window['days']} days", "x": round(left + group_w * (index + 0.5), 1), "bars": bars}
        )
    return {
        "width": width,
        "height": height,
        "axis": _axis(top, plot_h, left, width - right),
        "axis_x": left - 6,
        "baseline_y": top + plot_h,
        "label_y": height - bottom + 18,
        "groups": groups,
        "legend": [{"label": label, "css": css} for _, label, css in SERIES],
    }


def trend_chart(months: Sequence[Mapping[str, Any]], *, width: int = 640, height: int = 260) -> dict[str, Any]:
    """Lines by month of anchor: the return rate of each group; months without data break the line."""
    left, right, top, bottom = 44, 12, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    inset = 28  # room for the first and last month's label
    step = (plot_w - 2 * inset) / max(len(months) - 1, 1)
    every = max(1, round(len(months) / 8))  # about eight month labels at most
    lines = []
    for key, label, css in SERIES:
        segments: list[list[str]] = [[]]
        points = []
        for index, month in enumerate(months):
            rate = month[key]
            if rate["rate"] is None:
                if segments[-1]:
                    segments.append([])
                continue
            x = round(left + inset + step * index if len(months) > 1 else left + plot_w / 2, 1)
            y = _y(rate["rate"], top, plot_h)
            segments[-1].append(f"{x},{y}")
            points.append({"x": x, "y": y, "title": f"{month['label']} — {describe(label, rate)}"})
        lines.append(
            {"css": css, "label": label, "segments": [" ".join(s) for s in segments if len(s) > 1], "points": points}
        )
    last = len(months) - 1
    labels = [
        {"x": round(left + inset + step * index if len(months) > 1 else left + plot_w / 2, 1), "label": month["label"]}
        for index, month in enumerate(months)
        # Every `every`-th month, and the last one unless it would crowd the label before it.
        if index % every == 0 or (index == last and last % every >= every / 2)
    ]
    return {
        "width": width,
        "height": height,
        "axis": _axis(top, plot_h, left, width - right),
        "axis_x": left - 6,
        "label_y": height - bottom + 18,
        "lines": lines,
        "labels": labels,
        "empty": not any(line["points"] for line in lines),
    }


MIN_N = THIN_N  # below it a rate is "too few to tell", drawn faded and after the well-measured ones


def gesture_chart(gestures: Sequence[Mapping[str, Any]], *, width: int = 640, row: int = 30) -> dict[str, Any]:
    """Horizontal bars: the return rate after each gesture was offered, with its 95% interval and n.

    Gestures measured on enough customers come first, best rate first; the others follow, faded.
    """
    left, right, top = 214, 96, 8
    gestures = sorted(
        gestures,
        key=lambda g: (
            g["offered"]["customers"] < MIN_N,
            -(g["offered"]["low"] if g["offered"]["rate"] is not None else -1),
            -(g["offered"]["rate"] or 0),
            -g["offered"]["customers"],
        ),
    )
    plot_w = width - left - right
    rows = []
    for index, gesture in enumerate(gestures):
        rows.append(_gesture_row(gesture, y=top + row * index, row=row, left=left, plot_w=plot_w))
    height = top * 2 + row * max(len(gestures), 1) + 18
    return {
        "width": width,
        "height": height,
        "left": left,
        "label_x": left - 8,
        "right_x": width - right + 8,
        "plot_w": plot_w,
        "rows": rows,
        "bar_h": row - 12,
        "ticks": [{"x": round(left + plot_w * t / 100, 1), "label": f"{t}%"} for t in TICKS],
        "tick_y": height - 6,
        "plot_bottom": top + row * max(len(gestures), 1),
    }


def _gesture_row(gesture: Mapping[str, Any], *, y: float, row: int, left: int, plot_w: int) -> dict[str, Any]:
    """One gesture's bar at height `y`: its label, n, and (when measured) the rate with its interval."""
    rate = gesture["offered"]
    label = gesture["label"] if len(gesture["label"]) <= 28 else gesture["label"][:27] + "…"
    mid = y + row / 2
    item: dict[str, Any] = {
        "y": y,
        "bar_y": y + 6,
        "mid": mid,
        "cap_top": mid - 5,
        "cap_bottom": mid + 5,
        "text_y": mid + 4,
        "label": label,
        "n": f"n={rate['customers']:,}",
        "thin": rate["customers"] < MIN_N,
        "title": describe(gesture["label"], rate),
    }
    if rate["rate"] is not None:
        item.update(
            {
                "w": round(plot_w * rate["rate"], 1),
                "low_x": round(left + plot_w * rate["low"], 1),
                "high_x": round(left + plot_w * rate["high"], 1),
                "pct": _pct(rate["rate"]),
            }
        )
    return item


def dashboard_charts(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "headline": headline_chart(data["windows"]),
        "trend": trend_chart(data["breakdowns"]["month"]),
        "gestures": gesture_chart(data["breakdowns"]["gesture"]),
    }
