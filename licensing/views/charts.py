"""Chart geometry for the Licensing workspace's server-rendered SVG charts (no script, no build step).

Three charts, each drawn by a template from the numbers computed here, each with a text
alternative (an SVG ``<title>``/``<desc>`` and a data table) so it reads without the picture:

* ``usage_segments`` / ``usage_bars``: a license's position in a local virtual account as a
  stacked bar — In Use (covered by what the virtual account holds), Lent to lower tiers,
  Available, Shortage. The Licenses tab draws one bar per license of the chosen virtual
  account; the license detail page one bar per local virtual account (the guide's "local
  Virtual Account Usage").
* ``history_chart``: a license's reported usage over the last days (``usage_history``) as a
  step line, with the licenses held today as a dashed reference line.

Percentages and coordinates are plain numbers written into SVG attributes (``x``, ``width``,
``d``): the Content-Security-Policy forbids inline style, not presentation attributes.
"""

from django.utils.translation import gettext_lazy as _

SEGMENTS = [
    ("in_use", _("In Use")),
    ("reserved", _("Reserved")),
    ("lent", _("Lent to lower tiers")),
    ("available", _("Available")),
    ("shortage", _("Shortage")),
]


def usage_segments(position):
    """{key: value} of the five parts of a position; they add up to what the bar spans.

    Licenses held = purchased + borrowed; the ones lent away cannot cover usage here, so usage
    and reservations are covered by at most (held − lent), usage first, and the rest of them is
    the shortage.
    """
    held = position.purchased + position.borrowed
    usable = max(held - position.lent, 0)
    reserved = getattr(position, "reserved", 0)
    covered = min(position.in_use, usable)
    reserved_covered = min(reserved, usable - covered)
    return {
        "in_use": covered,
        "reserved": reserved_covered,
        "lent": min(position.lent, held),
        "available": max(usable - position.in_use - reserved, 0),
        "shortage": position.in_use + reserved - covered - reserved_covered,
    }


def usage_bars(items):
    """``items``: [(label, url or None, position)] -> bars on one common scale (percent of the longest)."""
    bars = []
    for label, url, position in items:
        values = usage_segments(position)
        bars.append({"label": label, "url": url, "position": position, "values": values, "total": sum(values.values())})
    scale = max([bar["total"] for bar in bars] + [1])
    for bar in bars:
        x, parts = 0.0, []
        for key, name in SEGMENTS:
            value = bar["values"][key]
            if value <= 0:
                continue
            width = value * 100 / scale
            parts.append({"key": key, "label": name, "value": value, "x": f"{x:.2f}", "width": f"{width:.2f}"})
            x += width
        bar["parts"] = parts
    return {"bars": bars, "scale": scale, "segments": SEGMENTS}


# --- Usage over time ------------------------------------------------------------------------------

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 14, 14, 30


def _nice_ceiling(value):
    """The smallest of 1, 2, 5 × 10^n at least ``value`` (an axis top that reads well)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def history_chart(history, held_today):
    """Geometry of the usage-over-time chart; ``held_today`` is purchased + borrowed − lent now."""
    points = history.points
    days = len(points)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max(history.values + [max(held_today, 0), 1]))
    slot = plot_w / max(days, 1)

    def y(value):
        return TOP + plot_h - value * plot_h / top

    line, area, previous = [], [], None
    for index, (_day, value) in enumerate(points):
        x0, x1 = LEFT + index * slot, LEFT + (index + 1) * slot
        if value is None:
            previous = None
            continue
        if previous is None:
            line.append(f"M{x0:.1f},{y(value):.1f}")
            area.append(f"M{x0:.1f},{y(0):.1f} V{y(value):.1f}")
        else:
            line.append(f"V{y(value):.1f}")
            area.append(f"V{y(value):.1f}")
        line.append(f"H{x1:.1f}")
        area.append(f"H{x1:.1f}")
        previous = value
        if index + 1 == days or points[index + 1][1] is None:
            area.append(f"V{y(0):.1f} Z")
    y_ticks = [{"value": v, "y": f"{y(v):.1f}"} for v in sorted({0, top // 2, top}) if v == 0 or v >= 1]
    x_ticks = []
    for index in sorted({0, days // 2, days - 1}) if days else []:
        x_ticks.append(
            {
                "label": points[index][0].strftime("%m-%d"),
                "date": points[index][0],
                "x": f"{LEFT + (index + 0.5) * slot:.1f}",
            }
        )
    held = {"value": held_today, "y": f"{y(max(held_today, 0)):.1f}"} if held_today > 0 else None
    values = history.values
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + plot_h,
        "line": " ".join(line),
        "area": " ".join(area),
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "held": held,
        "first_day": points[0][0] if points else None,
        "last_day": points[-1][0] if points else None,
        "minimum": min(values) if values else None,
        "maximum": max(values) if values else None,
        "latest": points[-1][1] if points else None,
        # The data table lists the days on which the reported usage changed (and the first and last day).
        "changes": [
            (day, value)
            for index, (day, value) in enumerate(points)
            if index in (0, days - 1) or value != points[index - 1][1]
        ],
    }


__all__ = ["usage_segments", "usage_bars", "history_chart", "SEGMENTS"]
