#!/usr/bin/env python3
"""Plots handshake rate against live connections from an `ibcm bench --json` report, as SVG
(of a `--repeat N` report, its last run).

    bench/plot.py REPORT.json OUT.svg

Standard library only: the SVG is written by hand. The x axis is logarithmic (1k .. 1M live
connections), the y axis linear from 0; a dashed line marks the flatness target (the cost of one
more handshake within 1.25x of its cost at the smallest size, i.e. a rate at least 1/1.25 of it).
"""
import json
import math
import sys

W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 90, 30, 50, 60
FLAT = 1.25


def size_text(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_step(top):
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def plot(report):
    points = report["scale"]["points"]
    xs = [int(p["live"]) for p in points]
    ys = [p["handshakes_per_s"] for p in points]
    floor = ys[0] / FLAT
    step = nice_step(max(ys) * 1.15)
    top = step * math.ceil(max(ys) * 1.15 / step)
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    if hi == lo:
        hi = lo + 1
    pad = (hi - lo) * 0.06  # room for the first and last labels
    lo, hi = lo - pad, hi + pad

    def px(x):
        return LEFT + (math.log10(x) - lo) / (hi - lo) * (W - LEFT - RIGHT)

    def py(y):
        return H - BOTTOM - y / top * (H - TOP - BOTTOM)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
    ]
    cpu = report.get("machine", {}).get("cpu", "")
    title = "ibcm: handshakes per second (one core, both sides) against live connections"
    out.append(f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{esc(title)}</text>')
    sub = f"{cpu}, {report.get('machine', {}).get('cpus', '?')} CPUs, ibcm bench ({report['mode']})"
    out.append(f'<text x="{W / 2}" y="38" text-anchor="middle" fill="#555">{esc(sub)}</text>')
    # Grid and y labels.
    y = 0.0
    while y <= top + 1e-9:
        out.append(f'<line x1="{LEFT}" y1="{py(y):.1f}" x2="{W - RIGHT}" y2="{py(y):.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y:,.0f}</text>')
        y += step
    # x ticks at each measured size.
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" y1="{TOP}" x2="{px(x):.1f}" y2="{H - BOTTOM}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">'
                   f'{size_text(x)}</text>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 18}" text-anchor="middle">'
               'live ESTABLISHED connections (log scale)</text>')
    out.append(f'<text transform="translate(20,{(TOP + H - BOTTOM) / 2}) rotate(-90)" '
               'text-anchor="middle">handshakes / s (CPU time)</text>')
    # Axes.
    out.append(f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" '
               'stroke="black"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="black"/>')
    # The flatness target.
    out.append(f'<line x1="{LEFT}" y1="{py(floor):.1f}" x2="{W - RIGHT}" y2="{py(floor):.1f}" '
               'stroke="#c33" stroke-dasharray="6,4"/>')
    out.append(f'<text x="{W - RIGHT - 4}" y="{py(floor) + 16:.1f}" text-anchor="end" '
               f'fill="#c33">flat target: cost within {FLAT}x of at {size_text(xs[0])}</text>')
    # The measurements.
    path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}"
                    for i, (x, y) in enumerate(zip(xs, ys)))
    out.append(f'<path d="{path}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    for x, y in zip(xs, ys):
        out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="#1f5fbf"/>')
        out.append(f'<text x="{px(x):.1f}" y="{py(y) - 10:.1f}" text-anchor="middle">'
                   f'{y / 1000:,.0f}k</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        report = json.load(f)
    if "runs" in report:
        last = report["runs"][-1]
        last["machine"], last["mode"] = report.get("machine", {}), report["mode"]
        report = last
    with open(sys.argv[2], "w") as f:
        f.write(plot(report))


if __name__ == "__main__":
    main()
