#!/usr/bin/env python3
"""The Pareto plot of a `tpusim mixprec` run: accuracy against simulated cycles.

Usage:
    /usr/bin/python3 scripts/mixprec_plot.py DIR

Reads DIR/pareto.csv and DIR/report.json and writes DIR/pareto.png: every evaluated point in grey
(accuracy on the search split, cycles of one image on the target architecture), the Pareto front in
red, the uniform points labelled, the chosen point as a star and the accuracy floor dashed.
Bad input gives one line "mixprec_plot.py: FILE: PROBLEM" on stderr, exit status 1 and no PNG; the
PNG is saved to a temporary file and renamed into place.
Needs matplotlib only (Debian: python3-matplotlib).
"""
import csv
import json
import os
import sys
import tempfile

PROG = "mixprec_plot.py"


def fail(path, problem):
    print(f"{PROG}: {path}: {problem}", file=sys.stderr)
    sys.exit(1)


def load(folder):
    rpath, cpath = os.path.join(folder, "report.json"), os.path.join(folder, "pareto.csv")
    try:
        with open(rpath) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        fail(rpath, e)
    try:
        with open(cpath, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, ValueError) as e:
        fail(cpath, e)
    if not rows:
        fail(cpath, "no point")
    try:
        points = [(int(r["index"]), float(r["accuracy"]), int(r["cycles"]), r["pareto"] == "1") for r in rows]
        chosen = int(report["chosen"]["point"])
        uniform = {k: int(v["point"]) for k, v in report["uniform"].items()}
        floor = float(report["accuracy_floor"])
    except (KeyError, ValueError, TypeError) as e:
        fail(folder, f"missing or bad field in report.json or pareto.csv: {e}")
    by_index = {p[0]: p for p in points}
    for i in [chosen] + list(uniform.values()):
        if i not in by_index:
            fail(cpath, f"point {i} of report.json is not in the table")
    return report, by_index, chosen, uniform, floor


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    folder = sys.argv[1]
    report, pts, chosen, uniform, floor = load(folder)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    allp = list(pts.values())
    ax.scatter([p[2] for p in allp], [100 * p[1] for p in allp], c="0.6", s=18, label="evaluated")
    front = sorted((p for p in allp if p[3]), key=lambda p: p[2])
    ax.plot([p[2] for p in front], [100 * p[1] for p in front], "o-", c="tab:red", ms=5, label="Pareto front")
    for name, i in uniform.items():
        p = pts[i]
        ax.annotate(f"uniform {name}", (p[2], 100 * p[1]), textcoords="offset points", xytext=(5, -12), fontsize=8)
    c = pts[chosen]
    ax.scatter([c[2]], [100 * c[1]], marker="*", s=220, c="tab:blue", zorder=5, label="chosen")
    ax.axhline(100 * floor, ls="--", c="tab:blue", lw=0.8, label=f"floor (-{report['max_drop_points']} points)")
    ax.set_xlabel(f"simulated cycles per image ({report['arch']})")
    ax.set_ylabel("top-1 on the search split (%)")
    ax.set_title(f"tpusim mixprec: {report['model']}, {len(allp)} points")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the plot from other users
        os.replace(tmp, os.path.join(folder, "pareto.png"))
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(os.path.join(folder, "pareto.png"))


if __name__ == "__main__":
    main()
