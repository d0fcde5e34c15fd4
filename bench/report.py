"""The report of `./dev bench`: merges the JSON lines of bench/compare.c (hybrid, bare C, the
machine's limits) and bench/compare_torch.py (PyTorch) — several runs each, alternated — into
per-case medians; writes a Markdown table of per-call times with ratios against hybrid
compiled, a JSON file, and an SVG chart of each column's speed-up over PyTorch eager (drawn with
matplotlib); and puts the table and the chart into the README between its bench markers.

    /usr/bin/python3 bench/report.py --hybrid H.jsonl --torch T.jsonl --out DIR
                                     --readme README.md --machine TEXT --commit SHA --threads N
"""
import argparse
import datetime
import json
import os
import statistics

COLUMNS = ["hybrid eager", "hybrid compiled", "hybrid interpreted", "hybrid frozen", "bare C",
           "torch eager", "torch.jit.trace", "torch.jit.freeze", "hybrid from ONNX", "onnxruntime"]
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# The floor under each case: multiply-adds at the CPU's vector peak (the FMA loop of bench/peak.h,
# not a BLAS's GEMM), or bytes at the copy bandwidth.
# The training step: forward and weight gradients of both layers, the input gradient of the
# second only (the first layer's input needs none).
FLOPS = {"mlp": 2 * 2 * (20 * 256 + 256 * 10), "mlp_wide": 2 * 256 * 2 * 1024 * 1024,
         "mlp_deep": 2 * 64 * 16 * 256 * 256,
         "train": 2 * 64 * (2 * (20 * 256 + 256 * 10) + 256 * 10),
         # ResNet-18, one 224x224 image: its convolutions and fc, 1.8139e9 multiply-adds
         "resnet18": 2 * 1813_900_000,
         # 2 encoder layers over 32 tokens of width 32 (QKV, out, 32-64-32 feed-forward, and
         # the 4 heads' QK^T and AV over 16 tokens each) and the 32-2 head
         "transformer": 2 * (2 * (32 * (3 * 32 * 32 + 32 * 32 + 2 * 32 * 64) + 2 * 4 * 2 * 16 * 16 * 8)
                             + 2 * 32 * 2)}
BYTES = {"chain": 4 * 4194304}


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def merge(lines):
    """case -> column -> median over the runs' medians; plus titles and the other records."""
    times, titles, other = {}, {}, []
    for rec in lines:
        if "case" not in rec:
            other.append(rec)
            continue
        titles.setdefault(rec["case"], rec.get("title"))
        for col, us in rec["columns"].items():
            times.setdefault(rec["case"], {}).setdefault(col, []).append(us)
    return ({c: {k: statistics.median(v) for k, v in cols.items()} for c, cols in times.items()},
            titles, other)


def fmt(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.2f} µs"


def table(cases, titles, limits):
    head = "| case | " + " | ".join(COLUMNS) + " | floor |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for case, cols in cases.items():
        ref = cols.get("hybrid compiled")
        cells = []
        for c in COLUMNS:
            if c not in cols:
                cells.append("—")
            else:
                ratio = f" ({cols[c] / ref:.2f}×)" if ref and c != "hybrid compiled" else ""
                cells.append(f"{fmt(cols[c])}{ratio}")
        floor = "—"
        peak = limits.get("vector_peak_gflop_s") or limits.get("gemm_gflop_s")
        if case in FLOPS and peak:
            floor = fmt(FLOPS[case] / peak / 1e3)
        elif case in BYTES and limits.get("copy_gb_s"):
            # reading only: the copy rate counts bytes read and written
            floor = fmt(BYTES[case] / limits["copy_gb_s"] / 1e3)
        lines.append(f"| {titles.get(case) or case} | " + " | ".join(cells) + f" | {floor} |")
    return "\n".join(lines)


def chart(cases, titles, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["hybrid compiled", "hybrid frozen", "bare C", "torch.jit.trace", "torch.jit.freeze"]
    names = [k for k in cases if "torch eager" in cases[k]]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    width = 0.8 / len(shown)
    for i, col in enumerate(shown):
        xs, ys = [], []
        for j, case in enumerate(names):
            if col in cases[case]:
                xs.append(j + (i - (len(shown) - 1) / 2) * width)
                ys.append(cases[case]["torch eager"] / cases[case][col])
        ax.bar(xs, ys, width, label=col)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("speed-up over PyTorch eager (log)")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([titles.get(n) or n for n in names], rotation=15, ha="right", fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title("hybrid and PyTorch 1.13 against PyTorch eager, per call (higher is faster)")
    fig.tight_layout()
    fig.savefig(path, format="svg")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--hybrid", "--torch", "--onnx", "--out", "--readme", "--machine", "--commit"):
        p.add_argument(opt, required=opt in ("--hybrid", "--out"))
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    lines = read(a.hybrid) + (read(a.torch) if a.torch and os.path.exists(a.torch) else []) + \
        (read(a.onnx) if a.onnx and os.path.exists(a.onnx) else [])
    cases, titles, other = merge(lines)
    runs = [r["limits"] for r in other if "limits" in r]  # the best of the runs: a limit
    limits = {k: max(r[k] for r in runs) for k in runs[0]} if runs else {}
    torch_version = next((r["torch"] for r in other if "torch" in r), None)
    date = datetime.date.today().isoformat()
    header = (f"{date}, {a.machine or 'this machine'}, commit {a.commit or '?'}, "
              f"{a.threads} thread{'s' if a.threads > 1 else ''} for every column; "
              f"PyTorch {torch_version or 'absent (no /usr/bin/python3 with torch)'}; "
              f"limits: copy {limits.get('copy_gb_s', '?')} GB/s, vector peak "
              f"{limits.get('vector_peak_gflop_s', '?')} GFLOP/s ({limits.get('isa', '?')} FMA "
              f"loop: the floor column's), OpenBLAS GEMM {limits.get('gemm_gflop_s', '?')} "
              f"GFLOP/s (its {limits.get('blas', '?')} kernels). Times are medians of alternating "
              f"rounds; (×) is the time against hybrid compiled (above 1: slower).")
    md = header + "\n\n" + table(cases, titles, limits) + "\n"
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump({"date": date, "machine": a.machine, "commit": a.commit, "threads": a.threads,
                   "torch": torch_version, "limits": limits, "cases": cases}, f, indent=1)
    svg = os.path.join(a.out, "speedup.svg")
    if torch_version:
        chart(cases, titles, svg)
    print(md)
    if a.readme:
        with open(a.readme) as f:
            text = f.read()
        if BEGIN in text and END in text:
            block = (f"{BEGIN}\n{md}\n" +
                     (f"![speed-up over PyTorch eager]({os.path.relpath(svg, os.path.dirname(a.readme) or '.')})\n"
                      if torch_version else "") + END)
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
            with open(a.readme + ".tmp", "w") as f:
                f.write(text)
            os.replace(a.readme + ".tmp", a.readme)


if __name__ == "__main__":
    main()
