#!/usr/bin/python3
"""Pareto plots of a `tpusim dse` sweep (docs/dse.md).

    python3 scripts/dse_plots.py DIR/results.json [--out DIR]

Writes pareto_latency_area.png (latency vs area) and pareto_energy_latency.png (energy vs
latency) next to results.json (or into --out): every finished point in grey, the Pareto front
(no other point is at least as good on both axes and better on one) highlighted and labelled
with its parameter values. A sweep over one key also gets sweep_<key>.png: cycles and DDR
traffic against that key (e.g. the capacity/traffic trade-off of lmem_kib). Bad input: one line
on stderr, exit 1.
"""
import argparse
import json
import os
import sys


def pareto_front(xs, ys):
    """Indices of the points not dominated when minimising both x and y, by increasing x."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i]))
    front, best_y = [], float("inf")
    for i in order:
        if ys[i] < best_y:
            front.append(i)
            best_y = ys[i]
    return front


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list):
        raise ValueError(f"{path}: not a tpusim dse results.json (no 'points' list)")
    pts = [p for p in doc["points"] if p.get("status") == "ok" and isinstance(p.get("metrics"), dict)]
    if not pts:
        raise ValueError(f"{path}: no finished ('ok') points to plot")
    keys = [a["key"] for a in doc.get("sweep", [])]
    return doc, pts, keys


def plot(pts, keys, x_key, y_key, x_label, y_label, title, out_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [float(p["metrics"][x_key]) for p in pts]
    ys = [float(p["metrics"][y_key]) for p in pts]
    front = pareto_front(xs, ys)
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    ax.scatter(xs, ys, s=14, color="0.65", label=f"{len(pts)} points")
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "o-", color="tab:red", ms=5,
            label=f"Pareto front ({len(front)})")
    for i in front:
        params = pts[i].get("params", {})
        label = ",".join(str(params.get(k, "")) for k in keys)
        ax.annotate(label, (xs[i], ys[i]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    # Log axes only when the values span decades; narrow ranges read better linear.
    if min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    if min(ys) > 0 and max(ys) / min(ys) > 20:
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title + (f"\nlabels: {','.join(keys)}" if keys else ""), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def plot_axis(pts, key, title, out_path):
    """Cycles and DDR bytes (read + written) against the one swept key."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted(pts, key=lambda p: float(p["params"][key]))
    xs = [float(p["params"][key]) for p in pts]
    cycles = [float(p["metrics"]["cycles"]) for p in pts]
    ddr = [(float(p["metrics"]["ddr_read_bytes"]) + float(p["metrics"]["ddr_write_bytes"])) / 1e6 for p in pts]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(xs, cycles, "o-", color="tab:blue", label="cycles")
    ax.set_xlabel(key)
    ax.set_ylabel("cycles per inference", color="tab:blue")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax2 = ax.twinx()
    ax2.plot(xs, ddr, "s--", color="tab:red", label="DDR MB")
    ax2.set_ylabel("DDR traffic per inference (MB)", color="tab:red")
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="results.json written by tpusim dse or tpusim dse merge")
    ap.add_argument("--out", help="output directory (default: the folder of results.json)")
    args = ap.parse_args()
    try:
        doc, pts, keys = load(args.results)
        out = args.out or os.path.dirname(os.path.abspath(args.results))
        os.makedirs(out, exist_ok=True)
        model = os.path.basename(str(doc.get("model", "")))
        written = [
            plot(pts, keys, "latency_us", "area_mm2", "latency (us)", "area (mm^2: MAC array + LMEM)",
                 f"{model}: latency vs area", os.path.join(out, "pareto_latency_area.png")),
            plot(pts, keys, "latency_us", "energy_nj", "latency (us)", "energy per inference (nJ)",
                 f"{model}: energy vs latency", os.path.join(out, "pareto_energy_latency.png")),
        ]
        if len(keys) == 1:
            written.append(plot_axis(pts, keys[0], f"{model}: cycles and DDR traffic vs {keys[0]}",
                                     os.path.join(out, f"sweep_{keys[0]}.png")))
    except Exception as e:  # one line, whatever went wrong (missing file, bad JSON, missing key)
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"dse_plots.py: error: {msg}", file=sys.stderr)
        return 1
    for w in written:
        print(f"wrote {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
