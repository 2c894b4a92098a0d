#!/usr/bin/env python3
"""Tests of scripts/demo_plots.py on a synthetic `tpusim demo` report and Chrome trace.

Run: /usr/bin/python3 tests/cli/demo_plots_test.py   (ctest: tests/cli/CMakeLists.txt)
The trace has the shape `tpusim run --trace` writes (sim/trace.cpp); no tpusim binary is needed.
"""
import json
import os
import pathlib
import struct
import subprocess
import sys
import tempfile
import unittest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "demo_plots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chrome_trace(n_tiu=40):
    """A trace as tpusim writes it: thread names, dma/TIU "X" slices, waits, an "end" instant per engine."""
    events = [{"ph": "M", "name": "thread_name", "pid": 1, "tid": tid, "args": {"name": name}}
              for tid, name in ((0, "gdma"), (1, "tiu"))]

    def slice_(tid, cat, name, start, end, index, node=None):
        args = {"index": index, "start_cycle": start, "end_cycle": end}
        if node:
            args["node"] = node
            name += " " + node
        events.append({"name": name, "cat": cat, "pid": 1, "tid": tid, "ph": "X",
                       "ts": start / 1000.0, "dur": (end - start) / 1000.0, "args": args})

    slice_(1, "wait", "sync (waiting)", 0, 100, 0)
    t = 0
    for i in range(n_tiu):
        slice_(0, "gdma", "dma.load", t, t + 100, i, f"conv{i}")
        slice_(1, "tiu", ["conv2d", "pool", "matmul"][i % 3], t + 100, t + 180, i + 1, f"conv{i}")
        t += 100
    slice_(0, "wait", "sync (waiting)", t, t + 80, n_tiu)
    slice_(0, "gdma", "dma.store", t + 80, t + 200, n_tiu + 1, "fc")
    for tid, cat, end in ((1, "tiu", t + 80), (0, "gdma", t + 200)):
        events.append({"name": "end", "cat": cat, "pid": 1, "tid": tid, "ph": "i", "s": "t", "ts": end / 1000.0,
                       "args": {"index": 99, "start_cycle": end, "end_cycle": end}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"arch": "default", "clock_mhz": 1000.0, "total_cycles": t + 200}}


ATTRIBUTION_KEYS = ["weight_rounding", "weight_clipping", "weight_update", "bias_rounding", "input_rounding",
                    "input_clipping", "requant", "multiplier", "output_clipping", "interaction", "upstream"]


def attribution(i):
    """Shares of a layer's error energy as `tpusim compare --attribute` writes them (sum 1; the
    interaction may be negative)."""
    a = dict.fromkeys(ATTRIBUTION_KEYS, 0.0)
    a.update(weight_rounding=0.5, requant=0.3, interaction=-0.1, upstream=0.3 if i else 0.0)
    a["input_rounding"] = 1 - sum(a.values())
    a.update(rounding=a["weight_rounding"] + a["input_rounding"], dominant="weight_rounding")
    return a


def quantized_variant(name, label, top1, sqnrs, trace=None, attributed=False):
    layers = [{"name": f"layer{i}", "op": "conv2d", "cosine": None if s is None else 1 - 10 ** (-s / 10),
               "sqnr_db": s, "max_abs_err": 0.01} for i, s in enumerate(sqnrs)]
    for i, layer in enumerate(layers if attributed else []):
        layer["attribution"] = attribution(i)
    v = {"name": name, "label": label, "bits": name.split("_")[-1],
         "accuracy": {"fp32": 0.9318, "fake_quant": top1, "int_ref": top1 - 0.0001, "sim": top1 - 0.0001},
         "sim_vs_int_ref": {"images": 10000, "identical_outputs": 10000},
         "perf": {"cycles": 123456, "latency_us": 123.456, "mac_utilization": 0.31, "macs": 4240000,
                  "ddr_read_bytes": 123000, "ddr_write_bytes": 4500,
                  "engines": {"gdma": {"busy": 1, "waiting": 2, "idle": 3}, "tiu": {"busy": 1, "waiting": 2, "idle": 3}}},
         "layers": layers}
    if trace:
        v["trace"] = trace
    return v


def report():
    return {"model": "lenet5", "dataset": "fashion-mnist", "arch": "default", "clock_mhz": 1000.0,
            "test_images": 10000,
            "variants": [
                {"name": "fp32", "label": "FP32", "bits": "fp32", "accuracy": {"fp32": 0.9318}},
                # null SQNR: JSON's inf (identical outputs); 1e308: a large number standing for inf
                quantized_variant("ptq_w8a8", "PTQ W8A8 (kl)", 0.9310, [38.2, None, 35.0, 1e308],
                                  "ptq_w8a8/trace.json", attributed=True),
                quantized_variant("qat_w4a4", "QAT W4A4 (lsq)", 0.9102, [20.1, 18.5, None, 15.0]),
            ]}


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails the test if the file is not a PNG."""
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path}: not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, f"{path}: first chunk is not IHDR"
    return struct.unpack(">II", data[16:24])


class DemoPlotsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.env = dict(os.environ, MPLCONFIGDIR=str(self.dir / "mplconfig"))

    def tearDown(self):
        self.tmp.cleanup()

    def write_report(self, r, trace=True):
        if trace:
            (self.dir / "ptq_w8a8").mkdir(exist_ok=True)
            (self.dir / "ptq_w8a8" / "trace.json").write_text(json.dumps(chrome_trace()))
        path = self.dir / "report.json"
        path.write_text(r if isinstance(r, str) else json.dumps(r))
        return path

    def run_script(self, *args):
        return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                              env=self.env, timeout=300)

    def pngs(self, folder=None):
        return sorted(p.name for p in (folder or self.dir).rglob("*.png"))

    def assert_fails(self, result, mentions):
        self.assertEqual(result.returncode, 1, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("demo_plots.py: "), lines[0])
        self.assertIn(mentions, lines[0])
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(self.pngs(), [])
        self.assertEqual([p.name for p in self.dir.rglob("*.tmp")], [])

    def test_writes_every_plot(self):
        path = self.write_report(report())
        result = self.run_script(path)
        self.assertEqual(result.returncode, 0, result.stderr)
        expected = ["accuracy.png", "attribution.png", "layers.png", "perf.png", "timeline_ptq_w8a8.png"]
        self.assertEqual(self.pngs(), expected)
        lines = result.stdout.splitlines()
        self.assertEqual(sorted(pathlib.Path(line).name for line in lines), expected)
        for line in lines:
            self.assertEqual(pathlib.Path(line).resolve().parent, self.dir.resolve())
            width, height = png_size(line)
            self.assertGreater(width, 0)
            self.assertGreater(height, 0)
        self.assertEqual([p.name for p in self.dir.rglob("*.tmp")], [])

    def test_out_folder_and_no_layers_or_perf(self):
        r = report()
        r["variants"] = r["variants"][:1]  # FP32 only: no layers, perf or trace
        path = self.write_report(r, trace=False)
        result = self.run_script(path, "--out", self.dir / "plots")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), [str(self.dir / "plots" / "accuracy.png")])
        self.assertEqual(self.pngs(self.dir / "plots"), ["accuracy.png"])
        self.assertGreater(png_size(self.dir / "plots" / "accuracy.png")[0], 0)

    def test_no_attribution_no_plot(self):
        r = report()
        for layer in r["variants"][1]["layers"]:
            del layer["attribution"]
        result = self.run_script(self.write_report(r))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("attribution.png", self.pngs())
        self.assertIn("layers.png", self.pngs())

    def test_all_sqnr_infinite(self):
        r = report()
        for v in r["variants"][1:]:
            for layer in v.get("layers", []):
                layer["sqnr_db"] = None
        result = self.run_script(self.write_report(r))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("layers.png", self.pngs())

    def test_missing_report(self):
        self.assert_fails(self.run_script(self.dir / "nope.json"), "nope.json")

    def test_invalid_json(self):
        self.assert_fails(self.run_script(self.write_report('{"variants": [')), "invalid JSON")

    def test_variant_without_accuracy(self):
        r = report()
        del r["variants"][1]["accuracy"]
        self.assert_fails(self.run_script(self.write_report(r)), "accuracy")

    def test_wrong_types(self):
        for mutate, mentions in ((lambda r: r.update(variants={}), "variants"),
                                 (lambda r: r["variants"][1]["perf"].update(cycles="many"), "cycles"),
                                 (lambda r: r["variants"][2]["layers"][0].pop("sqnr_db"), "sqnr_db"),
                                 (lambda r: r["variants"][1]["layers"][1]["attribution"].pop("upstream"),
                                  "upstream"),
                                 (lambda r: r["variants"][1]["layers"][0].update(attribution=[0.5]),
                                  "attribution"),
                                 (lambda r: r["variants"][0]["accuracy"].update(fp32=93.18), "fp32")):
            with self.subTest(mentions=mentions):
                r = report()
                mutate(r)
                self.assert_fails(self.run_script(self.write_report(r)), mentions)

    def test_missing_trace(self):
        r = report()
        r["variants"][1]["trace"] = "ptq_w8a8/missing.json"
        self.assert_fails(self.run_script(self.write_report(r)), "missing.json")

    def test_bad_trace(self):
        path = self.write_report(report())
        (self.dir / "ptq_w8a8" / "trace.json").write_text(json.dumps({"traceEvents": [{"ph": "X", "tid": 0}]}))
        self.assert_fails(self.run_script(path), "trace.json")


if __name__ == "__main__":
    unittest.main()
