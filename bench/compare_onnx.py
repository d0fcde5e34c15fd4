"""The ONNX side of `./dev bench`: each case's model exported by `hybrid export`, then timed as
hybrid running the exported file (imported, compiled: `hybrid bench FILE.onnx`) and as ONNX
Runtime running it (npm's onnxruntime-node through tools/ort_run.js), the two alternating
case by case. One JSON object per case is appended to --json; a progress line per case goes to
stderr. Cases whose model cannot be exported (chimera: control flow on values) are left out.
Run with Debian's /usr/bin/python3 (numpy, for the input file); ONNX Runtime's column is left
out when node or the package is missing.

    /usr/bin/python3 bench/compare_onnx.py [--rounds R] [--threads N] [--json FILE] [--dir DIR]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
HYBRID = os.path.join(ROOT, "build", "hybrid")
ORT_RUN = os.path.join(ROOT, "tools", "ort_run.js")
ORT_DIR = os.environ.get("HB_ORT_DIR", os.path.join(ROOT, ".cache", "ort"))

# bench/compare.c's keys and models, at their default input shapes (hybrid export's too)
CASES = [("mlp", "mlp"), ("mlp_wide", "mlp-wide"), ("mlp_deep", "mlp-deep"), ("chain", "chain"),
         ("resnet18", "resnet18"), ("transformer", "transformer-classifier")]
TOKEN_MODELS = {"transformer-classifier": (2, 16)}


def token_ids(shape, rng):
    """examples/registry.c's example_input: ids in [1, 100), the last quarter of every other
    row padding (0); both sides run this file."""
    ids = rng.integers(1, 100, shape, dtype=np.int64)
    ids[1::2, shape[1] - shape[1] // 4:] = 0
    return ids


def have_ort():
    try:
        subprocess.run(["node", "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return os.path.exists(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    p.add_argument("--dir", default=os.path.join(ROOT, "bench", "results", "onnx"))
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    out = open(a.json, "a") if a.json else sys.stdout
    ort = have_ort()
    env = dict(os.environ, HB_ORT_THREADS=str(a.threads), HB_ORT_DIR=ORT_DIR)
    for key, model in CASES:
        path = os.path.join(a.dir, key + ".onnx")
        r = subprocess.run([HYBRID, "export", model, "--output", path], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print(f"  {key:10s} not exported: {r.stderr.strip()}", file=sys.stderr)
            continue
        cols = {}
        x = os.path.join(a.dir, key + ".input.npy")
        given = []
        if model in TOKEN_MODELS:  # ids that are not all padding, the same for both sides
            np.save(x, token_ids(TOKEN_MODELS[model], np.random.default_rng(1)))
            given = ["--input", x]
        r = subprocess.run([HYBRID, "bench", path, "--json", "--threads", str(a.threads)] + given,
                           capture_output=True, text=True, check=True)
        bench = json.loads(r.stdout)
        cols["hybrid from ONNX"] = bench["compiled_us"]
        if ort:
            shape = [int(d) for d in bench["input"].strip("[]").split(",") if d.strip()]
            if not given:
                np.save(x, np.random.default_rng(1).random(shape, dtype=np.float32))
            r = subprocess.run(["node", ORT_RUN, path, x, "--time", str(a.rounds)],
                               capture_output=True, text=True, env=env)
            if r.returncode == 0:
                cols["onnxruntime"] = json.loads(r.stdout)["us"]
            else:
                print(f"  {key:10s} ONNX Runtime failed: {r.stderr.strip()}", file=sys.stderr)
        out.write(json.dumps({"case": key, "rounds": a.rounds, "columns": cols}) + "\n")
        out.flush()
        print(f"  {key:10s} " + "  ".join(f"{n} {v:.2f} us" for n, v in cols.items()),
              file=sys.stderr)


if __name__ == "__main__":
    main()
