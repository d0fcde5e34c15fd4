#!/usr/bin/env python3
"""docs/cli.md stays current: the help text it shows is what `hybrid help` prints today, and
every model `hybrid models` lists is described in docs/seed-models.md.

usage: docs_current.py SOURCE_ROOT HYBRID"""
import os
import subprocess
import sys


def main():
    root, hybrid = sys.argv[1:3]
    with open(os.path.join(root, "docs", "cli.md")) as f:
        cli = f.read()
    with open(os.path.join(root, "docs", "seed-models.md")) as f:
        models_doc = f.read()
    failures = []
    help_text = subprocess.run([hybrid, "help"], capture_output=True, text=True).stdout.rstrip()
    if not help_text or "```\n" + help_text + "\n```" not in cli:
        failures.append("docs/cli.md: its help block differs from `hybrid help` (paste it anew)")
    listed = subprocess.run([hybrid, "models"], capture_output=True, text=True, check=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name and "`%s`" % name not in models_doc:
            failures.append("docs/seed-models.md: no entry for model `%s`" % name)
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
