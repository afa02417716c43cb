#!/usr/bin/env python3
"""One chart per workload from a peers run's summary.csv: requests per second (Gbit/s for tcp)
and proxy CPU per request (CPU % for tcp), one bar per peer, the sidecar's ratio to the best
native peer written beside its bars. Writes OUT/<test>.svg, and OUT/<test>.png through headless
Chromium when it is installed.

    python3 bench/e2e/peers-charts.py RESULT_DIR
"""
import csv
import html
import os
import shutil
import subprocess
import sys
import tempfile

W, H = 760, 330
COLORS = {"direct": "#9e9e9e", "haproxy": "#4e79a7", "nginx": "#59a14f", "caddy": "#b07aa1", "sidecar": "#e15759"}


def panel(x0, title, rows, key, fmt, lower_is_better):
    vals = [(r["peer"], float(r[key])) for r in rows if r.get(key) not in ("", None)]
    if not vals:
        return ""
    top = max(v for _, v in vals) * 1.15 or 1
    out = [f'<text x="{x0 + 170}" y="28" font-size="15" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>']
    bw, gap, base, height = 56, 18, 280, 220
    natives = [v for p, v in vals if p != "direct" and not p.startswith("sidecar")]
    best = (min(natives) if lower_is_better else max(natives)) if natives else None
    for i, (peer, v) in enumerate(vals):
        x = x0 + 20 + i * (bw + gap)
        h = height * v / top
        out.append(f'<rect x="{x}" y="{base - h:.1f}" width="{bw}" height="{h:.1f}" fill="{COLORS.get(peer.split("-")[0], "#edc948")}"/>')
        label = fmt(v)
        if peer.startswith("sidecar") and best:
            label += f" ({v / best:.2f}x)"
        out.append(f'<text x="{x + bw / 2}" y="{base - h - 6:.1f}" font-size="11" text-anchor="middle">{html.escape(label)}</text>')
        out.append(f'<text x="{x + bw / 2}" y="{base + 16}" font-size="12" text-anchor="middle">{html.escape(peer)}</text>')
    out.append(f'<line x1="{x0 + 10}" y1="{base}" x2="{x0 + 350}" y2="{base}" stroke="#333"/>')
    return "\n".join(out)


def chart(test, rows, meta):
    tcp = test == "tcp"
    left = panel(0, "Gbit/s (higher is better)" if tcp else "requests/s (higher is better)", rows, "rate",
                 (lambda v: f"{v:.2f}") if tcp else (lambda v: f"{v / 1000:.1f}k"), False)
    right = panel(380, "proxy CPU % (one core = 100)" if tcp else "proxy CPU µs/request (lower is better)",
                  [r for r in rows if r["peer"] != "direct"], "proxy_cpu_pct" if tcp else "proxy_cpu_us_per_req",
                  lambda v: f"{v:.1f}", True)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>{left}{right}'
            f'<text x="10" y="{H - 10}" font-size="10" fill="#555">{html.escape(test + " - " + meta)}</text></svg>')


def main():
    out = sys.argv[1]
    with open(os.path.join(out, "summary.csv")) as f:
        rows = list(csv.DictReader(f))
    meta = ""
    if os.path.exists(os.path.join(out, "meta.txt")):
        with open(os.path.join(out, "meta.txt")) as f:
            meta = f.readline().strip()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    for test in dict.fromkeys(r["test"] for r in rows):
        svg = os.path.join(out, test + ".svg")
        with open(svg, "w") as f:
            f.write(chart(test, [r for r in rows if r["test"] == test], meta))
        if chromium:
            with tempfile.TemporaryDirectory() as profile:
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={W},{H}",
                                "--screenshot=" + os.path.join(out, test + ".png"), "file://" + os.path.abspath(svg)],
                               check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


if __name__ == "__main__":
    main()
