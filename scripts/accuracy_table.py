#!/usr/bin/env python3
"""Prints the markdown table of an accuracy benchmark folder (scripts/bench_accuracy.sh)."""
import json
import pathlib
import sys


def main(folder):
    rows = []
    fp32_epoch = None
    for report in sorted(pathlib.Path(folder).glob("*/report.json")):
        r = json.loads(report.read_text())
        acc = r["accuracy"]
        top1 = acc.get("fake_quant", acc.get("fp32"))
        ref = r.get("integer_reference", {})
        if r["kind"] == "fp32":
            fp32_epoch = r.get("seconds_per_epoch")
        method = r.get("algo") or r.get("calibration", {}).get("method", "")
        epochs = len(r.get("history", [])) or ""
        if r["kind"] == "qat":
            epochs = f"{epochs} (lr {r['options']['lr']:g})"
        rows.append((r["kind"], r.get("bits", "fp32"), method, epochs, top1, acc["fp32"], ref, r.get("seconds_per_epoch")))
    order = {"fp32": 0, "ptq": 1, "qat": 2}
    rows.sort(key=lambda x: (x[1] != "fp32", x[1] == "w2a2", x[1] != "w8a8", order[x[0]], x[2]))
    print("| variant | bits | calibration / algorithm | epochs | top-1 (fake-quant) | vs FP32 | first N test images: integer ref / fake-quant top-1 | same class | s/epoch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, bits, method, epochs, top1, fp32, ref, spe in rows:
        delta = "" if kind == "fp32" else f"{100 * (top1 - fp32):+.2f}"
        refs = f"{100 * ref['top1']:.2f}% / {100 * ref['fake_quant_top1']:.2f}%" if ref else ""
        agree = f"{100 * ref['agreement']:.2f}%" if ref else ""
        cost = f"{spe:.0f}" if spe else ""
        if spe and kind == "qat" and fp32_epoch:
            cost += f" ({spe / fp32_epoch:.2f}x)"
        print(f"| {kind} | {bits} | {method} | {epochs} | {100 * top1:.2f}% | {delta} | {refs} | {agree} | {cost} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench-accuracy")
