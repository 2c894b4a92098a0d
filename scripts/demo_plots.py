#!/usr/bin/env python3
"""Plots of a `tpusim demo` report: accuracy, per-layer error, performance and engine timelines.

Usage:
    /usr/bin/python3 scripts/demo_plots.py DIR/report.json [--out OUTDIR]

Writes to OUTDIR (default: the report's folder), and prints the path of each file written:
    accuracy.png            top-1 per variant: FP32, fake-quant, integer reference, simulator
    layers.png              per-layer SQNR (dB) and cosine similarity of the quantized variants
    attribution.png         per-layer error attribution (stacked shares of each layer's error energy:
                            weight rounding ... upstream, `tpusim compare --attribute`), one panel a
                            variant; skipped when no layer has "attribution"
    perf.png                latency, MAC utilization and DDR traffic of the simulated variants
    timeline_<variant>.png  Gantt chart of the engines, from the variant's Chrome trace
layers.png and perf.png are skipped when no variant has layers / perf.

The report and every trace are checked before anything is drawn: bad input gives one line
"demo_plots.py: FILE: PROBLEM" on stderr, exit status 1 and no PNG. Each PNG is saved to a
temporary file in OUTDIR and renamed into place once all of them are drawn.
Needs matplotlib and numpy only (Debian: python3-matplotlib python3-numpy).
"""
import argparse
import json
import math
import os
import re
import sys
import tempfile

PROG = "demo_plots.py"
# The disjoint parts of a layer's error energy (docs/compare.md, "Attribution"), as plotted.
ATTRIBUTION_PARTS = [("weight_rounding", "weight rounding"), ("weight_clipping", "weight clipping"),
                     ("weight_update", "weight update (QAT)"), ("bias_rounding", "bias rounding"),
                     ("input_rounding", "input rounding"), ("input_clipping", "input clipping"),
                     ("requant", "requant (output rounding)"), ("multiplier", "multiplier"),
                     ("output_clipping", "output clipping"), ("interaction", "interaction"),
                     ("upstream", "upstream")]
ACCURACY_KINDS = [("fp32", "FP32"), ("fake_quant", "fake-quant"), ("int_ref", "integer reference"),
                  ("sim", "simulator")]
INF_DB = 1000.0  # an SQNR at or above this, or null (JSON has no inf), means identical outputs
WAIT = "sync (waiting)"


class BadInput(Exception):
    """A problem with one input file, reported as 'demo_plots.py: FILE: PROBLEM'."""


def check(obj, key, kind, where, required=True, nullable=False):
    """obj[key] checked against kind: 'str', 'num', 'list' or 'dict'. None if absent or null and
    not required, or null and nullable (the key must then be present)."""
    if required and key not in obj:
        raise ValueError(f"{where}: missing key '{key}'")
    value = obj.get(key)
    if value is None and (nullable or not required):
        return None
    types = {"str": str, "num": (int, float), "list": list, "dict": dict}[kind]
    if not isinstance(value, types) or isinstance(value, bool):
        raise ValueError(f"{where}.{key}: expected {kind}, got {type(value).__name__}")
    if kind == "num" and math.isnan(value):
        raise ValueError(f"{where}.{key}: NaN")
    return value


def read_json(path, what=""):
    """The JSON in `path`; `what` (e.g. "trace of variant 'x': ") prefixes the problem."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except OSError as e:
        raise BadInput(f"{path}: {what}{e.strerror}") from None
    except ValueError as e:
        raise BadInput(f"{path}: {what}invalid JSON: {e}") from None


def check_variant(v, where):
    """Checks the fields of one variant that the plots use (accuracy required, the rest optional)."""
    if not isinstance(v, dict):
        raise ValueError(f"{where}: expected dict, got {type(v).__name__}")
    where = f"{where} ({check(v, 'name', 'str', where)})"
    check(v, "label", "str", where, required=False)
    check(v, "trace", "str", where, required=False)
    acc = check(v, "accuracy", "dict", where)
    for key, _ in ACCURACY_KINDS:
        a = check(acc, key, "num", f"{where}.accuracy", required=False)
        if a is not None and not 0 <= a <= 1:
            raise ValueError(f"{where}.accuracy.{key}: {a} is not a fraction in [0, 1]")
    perf_keys = ("cycles", "latency_us", "mac_utilization", "ddr_read_bytes", "ddr_write_bytes")
    for part, keys in (("sim_vs_int_ref", ("images", "identical_outputs")), ("perf", perf_keys)):
        obj = check(v, part, "dict", where, required=False)
        for key in keys if obj is not None else ():
            check(obj, key, "num", f"{where}.{part}")
    for i, layer in enumerate(check(v, "layers", "list", where, required=False) or []):
        if not isinstance(layer, dict):
            raise ValueError(f"{where}.layers[{i}]: expected dict, got {type(layer).__name__}")
        check(layer, "name", "str", f"{where}.layers[{i}]")
        for key in ("sqnr_db", "cosine"):  # null: inf SQNR, undefined cosine
            check(layer, key, "num", f"{where}.layers[{i}]", nullable=True)
        attribution = check(layer, "attribution", "dict", f"{where}.layers[{i}]", required=False)
        for key, _ in ATTRIBUTION_PARTS if attribution is not None else ():
            check(attribution, key, "num", f"{where}.layers[{i}].attribution")


def load_report(path):
    """The report, checked; every variant gets a label (its name if absent)."""
    report = read_json(path)
    try:
        if not isinstance(report, dict):
            raise ValueError(f"expected a JSON object, got {type(report).__name__}")
        variants = check(report, "variants", "list", "report")
        if not variants:
            raise ValueError("report.variants: empty")
        for key in ("model", "dataset", "arch"):
            check(report, key, "str", "report", required=False)
        for i, v in enumerate(variants):
            check_variant(v, f"variants[{i}]")
            v["label"] = v.get("label") or v["name"]
        files = [timeline_file(v["name"]) for v in variants]
        if len(set(files)) != len(files):
            raise ValueError("variant names collide as timeline file names")
    except ValueError as e:
        raise BadInput(f"{path}: {e}") from None
    return report


def load_trace(path, variant):
    """Chrome trace -> ({tid: row name}, {(tid, mnemonic): [(start, length)]}, [(tid, end)], unit).

    Times are cycles when every event has args start_cycle/end_cycle (as `tpusim run --trace`
    writes), else the ts/dur microseconds. Syncs (cat "wait" or mnemonic "sync") are under WAIT.
    """
    trace = read_json(path, f"trace of variant '{variant}': ")
    events = trace.get("traceEvents") if isinstance(trace, dict) else trace
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise BadInput(f"{path}: trace of variant '{variant}': 'traceEvents' is not a list of objects")
    timed = [e for e in events if e.get("ph") in ("X", "i")]
    in_cycles = all(isinstance(e.get("args"), dict) and {"start_cycle", "end_cycle"} <= e["args"].keys()
                    for e in timed)
    rows = {str(e.get("tid")): str(e["args"].get("name")) for e in events
            if e.get("ph") == "M" and e.get("name") == "thread_name" and isinstance(e.get("args"), dict)}
    spans, ends = {}, []
    try:
        for i, e in enumerate(events):
            if e.get("ph") not in ("X", "i"):
                continue
            where = f"traceEvents[{i}]"
            if in_cycles:
                start = check(e["args"], "start_cycle", "num", where + ".args")
                length = check(e["args"], "end_cycle", "num", where + ".args") - start
            else:
                start = check(e, "ts", "num", where)
                length = check(e, "dur", "num", where) if e["ph"] == "X" else 0
            tid = str(e.get("tid"))
            rows.setdefault(tid, tid)
            if e["ph"] == "i":
                ends.append((tid, start))
                continue
            mnemonic = (check(e, "name", "str", where).split() or ["?"])[0]
            key = WAIT if e.get("cat") == "wait" or mnemonic == "sync" else mnemonic
            spans.setdefault((tid, key), []).append((start, length))
    except ValueError as e:
        raise BadInput(f"{path}: trace of variant '{variant}': {e}") from None
    return rows, spans, ends, "cycles" if in_cycles else "us"


def timeline_file(name):
    return "timeline_" + re.sub(r"[^A-Za-z0-9_.+-]", "_", name) + ".png"


def is_inf_db(x):
    return x is None or x >= INF_DB


def plot_accuracy(fig, report):
    ax = fig.subplots()
    variants = report["variants"]
    width = 0.8 / len(ACCURACY_KINDS)
    values = []
    for k, (key, label) in enumerate(ACCURACY_KINDS):
        points = [(i + (k - 1.5) * width, 100 * v["accuracy"][key]) for i, v in enumerate(variants)
                  if v["accuracy"].get(key) is not None]
        if points:
            xs, ys = zip(*points)
            ax.bar_label(ax.bar(xs, ys, width, label=label), fmt="%.2f", rotation=90, padding=2, fontsize=7)
            values += ys
    bottom = max(0.0, min(values) - max(1.0, 0.5 * (max(values) - min(values)))) if values else 0.0
    top = max(values, default=100.0)
    ax.set_ylim(bottom, top + 0.35 * (top - bottom) + 0.5)
    ticks = []
    for v in variants:
        s = v.get("sim_vs_int_ref")
        same = f"\nsim = int ref on {s['identical_outputs']:g}/{s['images']:g}" if s else ""
        ticks.append(v["label"] + same)
    ax.set_xticks(range(len(variants)), ticks, fontsize=8)
    ax.set_ylabel(f"top-1 (%), axis from {bottom:.1f}")
    ax.set_title(f"Top-1 accuracy: {report.get('model', '')} on {report.get('dataset', '')} "
                 f"({report.get('test_images', '?')} test images)")
    ax.legend(loc="upper left", ncol=len(ACCURACY_KINDS), fontsize=8)


def plot_layers(fig, variants):
    ax_sqnr, ax_cos = fig.subplots(2, 1, sharex=True)
    names = list(dict.fromkeys(layer["name"] for v in variants for layer in v["layers"]))
    finite = [x["sqnr_db"] for v in variants for x in v["layers"]
              if not is_inf_db(x["sqnr_db"]) and math.isfinite(x["sqnr_db"])]
    top = max(finite, default=40.0) * 1.15 + 2  # inf SQNRs are clipped here, marked with a ^
    for v in variants:
        layers = v["layers"]
        xs = [names.index(x["name"]) for x in layers]
        sqnr = [top if is_inf_db(x["sqnr_db"]) else x["sqnr_db"] for x in layers]
        line, = ax_sqnr.plot(xs, sqnr, marker="o", markersize=4, label=v["label"])
        inf_xs = [x for x, layer in zip(xs, layers) if is_inf_db(layer["sqnr_db"])]
        if inf_xs:  # (clip_on=False artists, even empty ones, collapse the constrained layout)
            ax_sqnr.plot(inf_xs, [top] * len(inf_xs), "^", markersize=10, color=line.get_color())
        ax_cos.plot(xs, [math.nan if x["cosine"] is None else x["cosine"] for x in layers],
                    marker="o", markersize=4, color=line.get_color())
    ax_sqnr.plot([], [], "^", color="0.4", markersize=10, label="inf (identical), clipped")
    ax_sqnr.set_ylim(min(0.0, min(finite, default=0.0)), top * 1.06)
    ax_sqnr.set_ylabel("SQNR (dB)")
    ax_sqnr.set_title("Per-layer error vs FP32")
    ax_sqnr.legend(fontsize=8, loc="lower left")
    ax_cos.set_ylabel("cosine similarity")
    ax_cos.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    for ax in (ax_sqnr, ax_cos):
        ax.grid(alpha=0.3)


def plot_attribution(fig, variants):
    """One panel per variant: each layer's error energy split into its parts (percent), positive
    parts stacked up from 0, negative ones (interaction, upstream) down from 0."""
    from matplotlib import colormaps
    axes = fig.subplots(len(variants), 1, sharex=True, squeeze=False)[:, 0]
    names = list(dict.fromkeys(x["name"] for v in variants for x in v["layers"]))
    colours = colormaps["tab20"]
    for ax, v in zip(axes, variants):
        xs = [names.index(x["name"]) for x in v["layers"]]
        up, down = [0.0] * len(xs), [0.0] * len(xs)
        for k, (key, label) in enumerate(ATTRIBUTION_PARTS):
            share = [100 * x["attribution"][key] for x in v["layers"]]
            bottom = [d if s < 0 else u for s, u, d in zip(share, up, down)]
            ax.bar(xs, share, bottom=bottom, width=0.7, color=colours(k), label=label)
            up = [u + max(s, 0) for s, u in zip(share, up)]
            down = [d + min(s, 0) for s, d in zip(share, down)]
        ax.axhline(0, color="k", linewidth=0.8)
        ax.set_ylabel("% of error energy")
        ax.set_title(f"{v['label']}: where each layer's error comes from", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[-1].set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)


def plot_perf(fig, variants):
    ax_lat, ax_util, ax_ddr = fig.subplots(1, 3)
    xs = range(len(variants))
    perf = [v["perf"] for v in variants]
    bars = ax_lat.bar(xs, [p["latency_us"] for p in perf], color="tab:blue")
    ax_lat.bar_label(bars, [f"{p['latency_us']:.1f}\n{p['cycles']:,.0f} cyc" for p in perf], fontsize=7)
    ax_lat.set_title("latency per image (us)")
    bars = ax_util.bar(xs, [100 * p["mac_utilization"] for p in perf], color="tab:green")
    ax_util.bar_label(bars, fmt="%.1f", fontsize=7)
    ax_util.set_title("MAC utilization (%)")
    read = [p["ddr_read_bytes"] / 1024 for p in perf]
    write = [p["ddr_write_bytes"] / 1024 for p in perf]
    ax_ddr.bar(xs, read, label="read", color="tab:orange")
    bars = ax_ddr.bar(xs, write, bottom=read, label="write", color="tab:red")
    ax_ddr.bar_label(bars, [f"{r + w:.1f}" for r, w in zip(read, write)], fontsize=7)
    ax_ddr.set_title("DDR traffic (KiB)")
    ax_ddr.legend(fontsize=8)
    for ax in (ax_lat, ax_util, ax_ddr):
        ax.set_xticks(xs, [v["label"] for v in variants], rotation=30, ha="right", fontsize=8)
        ax.margins(y=0.2)


def plot_timeline(fig, trace, title):
    from matplotlib import colormaps
    from matplotlib.patches import Patch
    rows, spans, ends, unit = trace
    ax = fig.subplots()
    tids = list(rows)  # thread_name order, then first appearance
    mnemonics = sorted({m for _, m in spans if m != WAIT})
    palette = colormaps["tab10" if len(mnemonics) <= 10 else "tab20"]
    colours = {m: palette(i % palette.N) for i, m in enumerate(mnemonics)}
    colours[WAIT] = "0.8"
    for (tid, m), bars in spans.items():
        y = tids.index(tid)
        ax.broken_barh(bars, (y - 0.4, 0.8), facecolors=colours[m], linewidth=0)
    for tid, t in ends:
        ax.plot([t, t], [tids.index(tid) - 0.45, tids.index(tid) + 0.45], color="k", linewidth=1.5)
    ax.set_yticks(range(len(tids)), [rows[t] for t in tids])
    ax.set_ylim(max(len(tids), 1) - 0.5, -0.5)
    if not spans:
        ax.text(0.5, 0.5, "no events in the trace", transform=ax.transAxes, ha="center")
    ax.set_xlim(left=0)
    ax.set_xlabel(unit)
    ax.set_title(title)
    shown = mnemonics + ([WAIT] if any(m == WAIT for _, m in spans) else [])
    handles = [Patch(color=colours[m], label=m) for m in shown]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def draw_figures(report, traces):
    """[(file name, Figure)]: every plot of the report, drawn in memory."""
    import matplotlib  # only once the input is checked: errors stay fast and quiet
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    def figure(name, width, height):
        figures.append((name, Figure(figsize=(width, height), layout="constrained")))
        return figures[-1][1]

    figures = []
    variants = report["variants"]
    plot_accuracy(figure("accuracy.png", max(6, 1.8 * len(variants) + 2), 5), report)
    # The model input is on an exact grid (SQNR ~145 dB): plotted, it would flatten every layer.
    with_layers = [dict(v, layers=[x for x in v["layers"] if x.get("op") != "input"])
                   for v in variants if v.get("layers")]
    with_layers = [v for v in with_layers if v["layers"]]
    if with_layers:
        n_layers = len({x["name"] for v in with_layers for x in v["layers"]})
        plot_layers(figure("layers.png", max(7, 0.45 * n_layers + 2), 7), with_layers)
    with_attr = [dict(v, layers=[x for x in v["layers"] if x.get("attribution")]) for v in with_layers]
    with_attr = [v for v in with_attr if v["layers"]]
    if with_attr:
        n_layers = len({x["name"] for v in with_attr for x in v["layers"]})
        plot_attribution(figure("attribution.png", max(9, 0.5 * n_layers + 4), 1 + 2.6 * len(with_attr)),
                         with_attr)
    with_perf = [v for v in variants if v.get("perf")]
    if with_perf:
        plot_perf(figure("perf.png", max(9, 4.8 * len(with_perf)), 4.5), with_perf)
    for v in variants:
        if v["name"] in traces:
            trace = traces[v["name"]]
            fig = figure(timeline_file(v["name"]), 12, 1.5 + 0.7 * max(len(trace[0]), 1))
            plot_timeline(fig, trace, f"{v['label']}: engine timeline")
    return figures


def save_all(figures, out):
    """Saves each figure to a temporary file in `out`, then renames them all into place."""
    os.makedirs(out, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    saved = []
    try:
        for name, fig in figures:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            saved.append((tmp, os.path.join(out, name)))
            os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it 0600
            with os.fdopen(fd, "wb") as f:
                fig.savefig(f, format="png", dpi=110)
    except BaseException:
        for tmp, _ in saved:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
    for tmp, path in saved:
        os.replace(tmp, path)
    return [path for _, path in saved]


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="Plots of a tpusim demo report.json.")
    parser.add_argument("report", help="report.json written by `tpusim demo`")
    parser.add_argument("--out", help="folder for the PNGs (default: the report's folder)")
    args = parser.parse_args(argv)
    base = os.path.dirname(args.report)
    out = args.out or base or "."
    try:
        report = load_report(args.report)
        traces = {v["name"]: load_trace(os.path.join(base, v["trace"]), v["name"])
                  for v in report["variants"] if v.get("trace")}
        written = save_all(draw_figures(report, traces), out)
    except BadInput as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{PROG}: {e.filename or out}: {e.strerror}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
