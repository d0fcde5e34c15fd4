#!/usr/bin/env python3
"""That the op table cannot fall out of step with the files that expand it: a copy of src/ gets
one new row of ops.def, complete or with one part missing, and the files that read the table are
compiled (syntax only, with the build's own commands from compile_commands.json). A complete
elementwise row must compile everywhere; a row missing its C expression, its LLVM lowering, its
kernel, its gradient rule, or an elementwise op written as a plain HB_OP row, must not.

usage: op_table_build.py SOURCE_ROOT BUILD_ROOT"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

# The files that expand ops.def into an array or a switch, and what each checks.
EXPORT = "src/frontend/onnx_export.c"
READERS = ["src/ir/shape.c", "src/runtime/program.c", "src/runtime/kernels.c",
           "src/runtime/jit.c", "src/frontend/autodiff.c", "src/frontend/onnx_export.c"]

# (what, the row, the files that must fail; every other reader must compile). The ONNX export
# names every op (a mapping, or why it has none), so any new row fails there until it does.
CASES = [
    ("a complete elementwise row",
     'HB_EW_OP(TEST_HALF, "test_half", 1, HB_INPL, same, NONE, GRAD(ZERO),\n'
     "         0.5f * a, mul(c, a, K(c, w, 0.5)))", [EXPORT]),
    ("an elementwise row without its C expression",
     'HB_EW_OP(TEST_HALF, "test_half", 1, HB_INPL, same, NONE, GRAD(ZERO),\n'
     "         , mul(c, a, K(c, w, 0.5)))", ["src/runtime/program.c", EXPORT]),
    ("an elementwise row without its LLVM lowering",
     'HB_EW_OP(TEST_HALF, "test_half", 1, HB_INPL, same, NONE, GRAD(ZERO),\n'
     "         0.5f * a, )", ["src/runtime/jit.c", EXPORT]),
    ("an elementwise op written as a plain row (no expressions)",
     'HB_OP(TEST_HALF, "test_half", 1, 1, HB_EW | HB_INPL, same, NONE, GRAD(ZERO))',
     ["src/ir/shape.c", "src/runtime/kernels.c", EXPORT]),
    ("a row whose gradient rule does not exist",
     'HB_EW_OP(TEST_HALF, "test_half", 1, HB_INPL, same, NONE, GRAD(TEST_HALF),\n'
     "         0.5f * a, mul(c, a, K(c, w, 0.5)))", ["src/frontend/autodiff.c", EXPORT]),
    ("a row whose kernel does not exist",
     'HB_OP(TEST_WIDE, "test_wide", 1, 1, 0, same, NONE, GRAD(ZERO))',
     ["src/runtime/kernels.c", EXPORT]),
]


def syntax_command(entry, src_root, copy_root):
    """The build's command for a file, made to check the copy's file and write nothing."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MQ", "-MT"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD"):
            continue
        out.append(a)
    source = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(source, src_root)
    out = [a for a in out if os.path.realpath(os.path.join(entry["directory"], a)) != source]
    return out + ["-fsyntax-only", os.path.join(copy_root, rel)], entry["directory"]


def main():
    src_root, build_root = (os.path.realpath(p) for p in sys.argv[1:3])
    with open(os.path.join(build_root, "compile_commands.json")) as f:
        db = json.load(f)
    commands = {}
    for entry in db:
        rel = os.path.relpath(os.path.realpath(os.path.join(entry["directory"], entry["file"])),
                              src_root)
        if rel in READERS and rel not in commands:
            commands[rel] = entry
    readers = [r for r in READERS if r in commands]
    with open(os.path.join(build_root, "hb_config.h")) as f:
        jit = re.search(r"#define HB_HAVE_JIT 1", f.read()) is not None
    if not jit and "src/runtime/jit.c" in readers:  # without LLVM jit.c is a stub, no lowering
        print("skip src/runtime/jit.c: this build has no JIT (-Djit=disabled or no LLVM)")
        readers.remove("src/runtime/jit.c")
    missing = [r for r in ("src/ir/shape.c", "src/runtime/program.c", "src/runtime/kernels.c",
                           "src/frontend/autodiff.c") if r not in readers]
    if missing:
        print("op_table_build: no build command for " + ", ".join(missing))
        return 1
    failures = 0
    with tempfile.TemporaryDirectory(prefix="hb-optable-") as tmp:
        for what, row, must_fail in [("the table as it is", None, [])] + CASES:
            copy = os.path.join(tmp, "case")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(os.path.join(src_root, "src"), os.path.join(copy, "src"))
            if row is not None:
                path = os.path.join(copy, "src", "ir", "ops.def")
                with open(path) as f:
                    text = f.read()
                tail = text.index("#ifdef HB_EW_OP_AS_HB_OP")
                with open(path, "w") as f:
                    f.write(text[:tail] + row + "\n" + text[tail:])
            for reader in readers:
                cmd, cwd = syntax_command(commands[reader], src_root, copy)
                r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
                expected_fail = reader in must_fail
                ok = (r.returncode != 0) == expected_fail
                print("%-4s %s: %s %s" % ("ok" if ok else "FAIL", what, reader,
                                          "fails to compile" if r.returncode else "compiles"))
                if not ok:
                    failures += 1
                    print(r.stderr[-2000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
