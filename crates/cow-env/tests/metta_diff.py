#!/usr/bin/env python3
"""Differential check of cow-env's MeTTa engine against the reference interpreter.

Runs each .metta file through the reference (`metta FILE`, from `pip install hyperon`)
and through cow-env (the `metta_results` example), and compares the results of every
`!` form as multisets, up to the names of variables. It is a developer tool, not a
`cargo test`: without the reference it says so and exits 2.

    python3 crates/cow-env/tests/metta_diff.py [--each] [FILE.metta ...]

With no files it checks every .metta file in crates/cow-env/tests/metta. Exit status:
0 when every compared form agrees, 1 when one differs, 2 when the reference is not
installed or the build fails.

The reference stops a file at the first `!` form whose result is an `(Error ...)` atom;
forms after that point are reported as not compared. With `--each` the reference runs
the file once per `!` form instead, with the earlier `!` forms wrapped in
`(collapse ...)` so that their effects happen but their errors do not stop it (slower:
one reference run per form).
"""

import collections
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TIMEOUT = int(os.environ.get("METTA_DIFF_TIMEOUT", "120"))


def split_results(text):
    """Splits a printed result list `[a, b, c]` into its atoms."""
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    body = text[1:-1]
    items, depth, quoted, escaped, current = [], 0, False, False, []
    for i, c in enumerate(body):
        if quoted:
            current.append(c)
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                quoted = False
            continue
        if c == '"':
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0 and body[i + 1 : i + 2] == " ":
            items.append("".join(current).strip())
            current = []
            continue
        current.append(c)
    if "".join(current).strip():
        items.append("".join(current).strip())
    return items


VAR = re.compile(r"\$[^\s()\"]+")
SPACE = re.compile(r"GroundingSpace-\S+?(?=[\s)\]]|$)")


def canonical(atom):
    names = {}

    def rename(match):
        return names.setdefault(match.group(0), "$_%d" % len(names))

    return SPACE.sub("GroundingSpace", VAR.sub(rename, atom))


def multiset(items):
    return collections.Counter(canonical(i) for i in items)


def reference_lines(path):
    try:
        proc = subprocess.run(
            ["metta", path], capture_output=True, text=True, timeout=TIMEOUT,
            cwd=os.path.dirname(path),
        )
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % TIMEOUT
    lines = [l for l in proc.stdout.splitlines() if l.startswith("[")]
    note = proc.stderr.strip().splitlines()[-1] if proc.returncode != 0 and proc.stderr.strip() else ""
    return lines, note


def atom_end(text, pos):
    """The index just after the atom that starts at or after `pos`."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    depth, quoted, escaped = 0, False, False
    while pos < len(text):
        c = text[pos]
        if quoted:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                quoted = False
                if depth == 0:
                    return pos + 1
        elif c == '"':
            quoted = True
        elif c == ";":
            while pos < len(text) and text[pos] != "\n":
                pos += 1
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return pos + 1
        elif c.isspace() and depth == 0:
            return pos
        pos += 1
    return pos


def reference_each(path, count):
    """One reference run per `!` form: earlier forms are wrapped, the last line kept."""
    with open(path) as f:
        text = f.read()
    forms = []
    for m in re.finditer(r"(?m)^[ \t]*!", text):
        start = m.end()
        forms.append((m.start(), start, atom_end(text, start)))
    lines = []
    for k in range(min(count, len(forms))):
        pieces, last = [], 0
        for i, (bang, start, end) in enumerate(forms[: k + 1]):
            pieces.append(text[last:bang])
            form = text[start:end]
            if i < k:
                pieces.append("!(let $__ (collapse " + form + ") ())")
            else:
                pieces.append("!" + form + "\n")
            last = end
        tmp = os.path.join(os.path.dirname(path), ".metta_diff_probe.metta")
        with open(tmp, "w") as f:
            f.write("".join(pieces))
        try:
            got, note = reference_lines(tmp)
        finally:
            os.remove(tmp)
        if got is None:
            return lines, note
        lines.append(got[k] if len(got) > k else "(no output)")
    return lines, ""


def our_lines(binary, path):
    proc = subprocess.run([binary, path], capture_output=True, text=True, timeout=TIMEOUT)
    rows = []
    for line in proc.stdout.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            rows.append(parts)
    return rows


def main(argv):
    if shutil.which("metta") is None:
        print("reference not installed: `metta` is not on PATH (pip install hyperon)")
        return 2
    build = subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "cow-env", "--example", "metta_results"],
        cwd=ROOT,
    )
    if build.returncode != 0:
        print("building the metta_results example failed")
        return 2
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "examples", "metta_results")
    each = "--each" in argv
    argv = [a for a in argv if a != "--each"]
    files = argv or sorted(
        os.path.join(HERE, "metta", f)
        for f in os.listdir(os.path.join(HERE, "metta"))
        if f.endswith(".metta")
    )
    total = agree = asserts = asserts_agree = not_compared = 0
    for path in files:
        path = os.path.abspath(path)
        ours = our_lines(binary, path)
        ref, note = reference_each(path, len(ours)) if each else reference_lines(path)
        name = os.path.relpath(path, ROOT)
        if ref is None:
            print("%s: reference %s; %d forms not compared" % (name, note, len(ours)))
            not_compared += len(ours)
            continue
        differ = []
        for i, (line, form, shown) in enumerate(ours):
            if i >= len(ref):
                not_compared += len(ours) - i
                print("%s: reference stopped after %d of %d forms%s" % (
                    name, len(ref), len(ours), " (" + note + ")" if note else ""))
                break
            total += 1
            is_assert = form.startswith("(assert")
            asserts += is_assert
            mine = split_results(shown)
            theirs = split_results(ref[i])
            same = mine is not None and theirs is not None and multiset(mine) == multiset(theirs)
            if same:
                agree += 1
                asserts_agree += is_assert
            else:
                differ.append((line, form, ref[i], shown))
        for line, form, theirs, mine in differ:
            print("%s:%s: %s\n    reference: %s\n    cow-env:   %s" % (name, line, form, theirs, mine))
        print("%s: %d of %d compared forms agree" % (name, len(ours[: len(ref)]) - len(differ), min(len(ours), len(ref))))
    print("total: %d of %d compared forms agree (%d of %d assert forms); %d forms not compared"
          % (agree, total, asserts_agree, asserts, not_compared))
    return 0 if agree == total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
