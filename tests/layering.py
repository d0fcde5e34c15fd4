#!/usr/bin/env python3
"""The tree's layers, read from the symbols each object file of the library uses: src/common.c
below src/ir, which is below src/passes and src/runtime, which are below src/frontend; and
inside the frontend, the call stack and tensors below blocks, blocks below the tracer, the
tracer below hybridization (block.c reaches hybridize.c and trace.c only through
hb_block_hook, tensor.c reaches trace.c only through hb_tensor_hook). A call from a file to one
ranked above it is the circle coming back.

usage: layering.py STATIC_LIBRARY"""
import collections
import re
import subprocess
import sys

# Directories by layer: a file may use its own layer and the ones below.
DIRS = {"common": 0, "ir": 1, "passes": 2, "runtime": 2, "frontend": 3}
# Inside the frontend (files not listed are not ranked): the same rule.
FRONTEND = {"frame": 0, "tensor": 0, "rng": 0, "block": 1, "trace": 2, "hybridize": 3}


def symbols(lib):
    """Per object: the symbols it defines and the ones it uses."""
    out = subprocess.run(["nm", lib], capture_output=True, text=True, check=True).stdout
    defines, uses = collections.defaultdict(set), collections.defaultdict(set)
    obj = None
    for line in out.splitlines():
        if line.endswith(".o:"):
            m = re.match(r"src_(\w+?)\.c\.o:$", line)
            obj = m.group(1) if m else None  # the generated protobuf code is not ranked
            continue
        parts = line.split()
        if obj is None or not parts:
            continue
        if len(parts) == 3 and parts[1] in "TDBRV":
            defines[obj].add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            uses[obj].add(parts[1])
    return defines, uses


def rank(obj):
    """(layer, rank in the frontend or None) of an object such as frontend_block."""
    d, _, name = obj.partition("_")
    layer = DIRS.get(d, 0)  # src/common.c is "common"
    return layer, FRONTEND.get(name) if d == "frontend" else None


def main():
    defines, uses = symbols(sys.argv[1])
    owner = {s: o for o, syms in defines.items() for s in syms}
    bad = 0
    for obj in sorted(uses):
        for sym in sorted(uses[obj]):
            to = owner.get(sym)
            if to is None or to == obj:
                continue
            (la, ra), (lb, rb) = rank(obj), rank(to)
            if lb > la or (la == lb and ra is not None and rb is not None and rb > ra):
                print("%s uses %s of %s, a layer above it" % (obj, sym, to))
                bad += 1
    files = len(uses)
    print("%d object files, %d calls upward" % (files, bad))
    return 1 if bad or files < 10 else 0


if __name__ == "__main__":
    sys.exit(main())
