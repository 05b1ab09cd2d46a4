#!/usr/bin/env python3
"""Compiles one object of the build tree by its compile_commands.json entry, without ninja.

Usage: compile_one.py BUILD_DIR OBJECT   (OBJECT as CMake names it, relative to BUILD_DIR, e.g.
tests/CMakeFiles/cf_x_ko.dir/compile_fail/x.cpp.o). Prints what the compiler prints and exits with its
status. The header and compile-fail tests run this rather than `cmake --build --target`, so that they
need no lock on the build tree and CTest runs them beside everything else.
"""
import json
import os
import shlex
import subprocess
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, obj = sys.argv[1], sys.argv[2]
    db = os.path.join(build, "compile_commands.json")
    try:
        with open(db) as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        print(f"compile_one: cannot read {db}: {e}", file=sys.stderr)
        return 2
    for e in entries:
        args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
        # The object: the entry's "output" (newer CMake) or the compiler's -o argument.
        out = e.get("output") or next((b for a, b in zip(args, args[1:]) if a == "-o"), None)
        if out == obj:
            os.makedirs(os.path.join(e["directory"], os.path.dirname(obj)), exist_ok=True)
            return subprocess.run(args, cwd=e["directory"]).returncode
    print(f"compile_one: no entry for {obj} in {db}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
