#!/usr/bin/env python3
"""The shared library's public surface is include/hybrid.h and nothing else: every function the
header declares (HB_API) is exported, and every symbol exported is one the header declares.

usage: exports.py HEADER SHARED_LIBRARY"""
import re
import subprocess
import sys

# What the linker itself defines in every shared object.
LINKER = {"__bss_start", "_edata", "_end", "_init", "_fini"}


def main():
    header, lib = sys.argv[1:3]
    with open(header) as f:
        text = f.read()
    declared = set(re.findall(r"^HB_API\b[^(;]*?\b(hb_\w+)\s*\(", text, re.M))
    nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                        check=True)
    exported = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()} - LINKER
    # a sanitized build's instrumentation, not the library's
    exported = {s for s in exported if not s.startswith(("__asan", "__odr_asan", "__ubsan",
                                                         "__sancov", "__start_", "__stop_"))}
    extra, absent = sorted(exported - declared), sorted(declared - exported)
    for name in extra:
        print("exported but not declared in hybrid.h:", name)
    for name in absent:
        print("declared in hybrid.h but not exported:", name)
    print("%d functions declared, %d symbols exported" % (len(declared), len(exported)))
    return 1 if extra or absent or not declared else 0


if __name__ == "__main__":
    sys.exit(main())
