"""Keeps the code in docs/*.md identical to the compiled examples and tests it is taken from.

A snippet in Markdown is a marker line followed by a fenced code block:

    <!-- snippet: examples/recipe.hpp [recipe] -->
    ```cpp
    ...
    ```

and in the source the region sits between two lines that contain `// [recipe]`. With --check
(run by CTest) any difference is an error naming the doc and the region; with --write the docs are
updated from the sources. Usage: snippets.py ROOT (--check | --write)
"""
import pathlib
import re
import sys

MARKER = re.compile(r"^<!-- snippet: (\S+) \[([\w-]+)\] -->$")


def region(root: pathlib.Path, rel: str, name: str) -> str:
    lines = (root / rel).read_text().splitlines()
    tag = f"// [{name}]"
    marks = [i for i, line in enumerate(lines) if line.strip() == tag]
    if len(marks) != 2:
        raise SystemExit(f"snippets: {rel} must contain exactly two '{tag}' lines, found {len(marks)}")
    body = lines[marks[0] + 1 : marks[1]]
    indent = min((len(l) - len(l.lstrip()) for l in body if l.strip()), default=0)
    return "\n".join(l[indent:] for l in body)


def process(root: pathlib.Path, doc: pathlib.Path, write: bool) -> list[str]:
    lines = doc.read_text().splitlines()
    out, problems, i, count = [], [], 0, 0
    while i < len(lines):
        out.append(lines[i])
        m = MARKER.match(lines[i].strip())
        if not m:
            i += 1
            continue
        count += 1
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise SystemExit(f"snippets: {doc.name}:{i + 1}: a snippet marker must be followed by a code fence")
        end = i + 2
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        current = "\n".join(lines[i + 2 : end])
        wanted = region(root, m.group(1), m.group(2))
        if current != wanted:
            problems.append(f"{doc.relative_to(root)}: snippet [{m.group(2)}] differs from {m.group(1)}")
        out.append(lines[i + 1])
        out.extend(wanted.splitlines())
        out.append("```")
        i = end + 1
    if write:
        doc.write_text("\n".join(out) + "\n")
    return problems if not write else []


def main() -> int:
    root = pathlib.Path(sys.argv[1]).resolve()
    write = "--write" in sys.argv
    problems = []
    docs = sorted((root / "docs").glob("*.md")) + [root / "README.md"]
    for doc in docs:
        if doc.exists():
            problems += process(root, doc, write)
    for p in problems:
        print(p)
    if problems:
        print("snippets: run `python3 docs/snippets.py . --write` to update the docs")
        return 1
    print(f"snippets: {len(docs)} documents match their sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
