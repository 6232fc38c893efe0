"""Server-side SVG charts of the registry page (replication lag, images copied), drawn from the selector's
figures (`selectors.registry_replication_metrics`); no queries, no JavaScript, nothing from the network."""
import math
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .choices import CHART_SERIES_COLOURS
from .selectors import ReplicationMetrics

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class LegendEntry:
    region: str
    display_name: str
    colour: str


def series_colour(index: int) -> str:
    return CHART_SERIES_COLOURS[index % len(CHART_SERIES_COLOURS)]


def legend(figures: ReplicationMetrics) -> list[LegendEntry]:
    return [LegendEntry(s.region, s.display_name, series_colour(i)) for i, s in enumerate(figures.regions)]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above value (an axis maximum that reads well)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def duration_label(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def bucket_label(start: datetime, bucket_seconds: int) -> str:
    return start.strftime("%H:%M") if bucket_seconds < 6 * 3600 else start.strftime("%b %-d %H:%M")


def _x(index: float, count: int) -> float:
    return LEFT + PLOT_W * index / count


def _y(value: float, maximum: float) -> float:
    return TOP + PLOT_H * (1 - value / maximum)


def grid_steps(maximum: float) -> int:
    """Grid lines at round values: 20 → 5, 10, 15; 5 → 1, 2, 3, 4; 2.5 → 0.5, 1, …"""
    mantissa = maximum / 10 ** math.floor(math.log10(maximum))
    return 4 if round(mantissa, 6) == 2 else 5


def _axes(figures: ReplicationMetrics, maximum: float, format_value) -> list[str]:
    parts = []
    steps = grid_steps(maximum)
    for step in range(steps + 1):
        value = maximum * step / steps
        y = _y(value, maximum)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(format_value(value))}</text>')
    count = len(figures.buckets)
    every = 6 if figures.bucket_seconds < 6 * 3600 else 4  # a label each 6 hours, or each day
    for index in range(0, count + 1, every):
        at = figures.start + (figures.end - figures.start) * index / count
        text = at.strftime("%H:%M") if figures.bucket_seconds < 6 * 3600 else at.strftime("%b %-d")
        anchor = "start" if index == 0 else "end" if index == count else "middle"  # inside the drawing
        parts.append(f'<text class="tick" x="{_x(index, count):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                     f'{escape(text)}</text>')
    return parts


def _svg(title: str, description: str, parts: list[str], *, chart: str, points: int) -> SafeString:
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-chart="{chart}" data-points="{points}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{escape(title)}</title><desc>{escape(description)}</desc>{"".join(parts)}</svg>')


def lag_chart(figures: ReplicationMetrics) -> SafeString:
    """One line per region: the mean lag of the copies that landed in each bucket (gaps where none did)."""
    count = len(figures.buckets)
    highest = max((v for s in figures.regions for v in s.lag_seconds_mean if v is not None), default=0)
    # The axis counts in one unit (s, min or h) so that its grid lines fall on round values of it.
    unit, unit_name = (1, "s") if highest < 120 else (60, "min") if highest < 7200 else (3600, "h")
    maximum = nice_ceiling(highest / unit) * unit
    parts = _axes(figures, maximum, lambda v: f"{v / unit:g} {unit_name}")
    points = 0
    for index, series in enumerate(figures.regions):
        colour = series_colour(index)
        runs, run = [], []
        for bucket, lag in enumerate(series.lag_seconds_mean):
            if lag is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((_x(bucket + 0.5, count), _y(lag, maximum), bucket, lag))
        if run:
            runs.append(run)
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in run)
                parts.append(f'<polyline class="series" fill="none" stroke="{colour}" points="{path}"/>')
            for x, y, bucket, lag in run:
                points += 1
                worst = series.lag_seconds_max[bucket]
                tip = (f"{series.display_name}, {bucket_label(figures.buckets[bucket], figures.bucket_seconds)}: "
                       f"mean {duration_label(lag)}, max {duration_label(worst)}, "
                       f"{series.images_copied[bucket]} image(s)")
                parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}" '
                             f'data-region="{escape(series.region)}"><title>{escape(tip)}</title></circle>')
    return _svg("Replication lag per region",
                "Mean seconds from a push until the image was complete in each region, per bucket.",
                parts, chart="lag", points=points)


def copied_chart(figures: ReplicationMetrics) -> SafeString:
    """Images copied per bucket, stacked by region."""
    count = len(figures.buckets)
    totals = [sum(s.images_copied[b] for s in figures.regions) for b in range(count)]
    maximum = max(nice_ceiling(max(totals, default=0)), 5)  # whole images: at least 1 per grid line
    parts = _axes(figures, maximum, lambda v: f"{v:g}")
    slot = PLOT_W / count
    points = 0
    for bucket in range(count):
        height_so_far = 0
        for index, series in enumerate(figures.regions):
            copied = series.images_copied[bucket]
            if not copied:
                continue
            points += 1
            top = _y(height_so_far + copied, maximum)
            bottom = _y(height_so_far, maximum)
            height_so_far += copied
            tip = (f"{series.display_name}, {bucket_label(figures.buckets[bucket], figures.bucket_seconds)}: "
                   f"{copied} image(s) copied")
            parts.append(f'<rect class="bar" x="{_x(bucket, count) + slot * 0.15:.1f}" y="{top:.1f}" '
                         f'width="{slot * 0.7:.1f}" height="{bottom - top:.1f}" fill="{series_colour(index)}" '
                         f'data-region="{escape(series.region)}"><title>{escape(tip)}</title></rect>')
    per = "hour" if figures.bucket_seconds == 3600 else f"{figures.bucket_seconds // 3600} hours"
    return _svg(f"Images copied per {per}", f"Images that became complete in each region by a copy, per {per}.",
                parts, chart="copied", points=points)
