#!/usr/bin/env python3
"""Run one benchmark of this tree and of an earlier commit, round by round.

    bench/ab.py BASE [--rounds N] [--match S] [--keep] -- BENCH [ARGS...]

BASE is any revision (a commit, HEAD~1, a tag). The script builds BASE's
benchmarks in a git worktree under build/ab/, builds this tree's in
build/release, then runs BENCH (nanorun_bench, nanorun_timer_bench,
nanorun_echo_bench, nanorun_net_bench) from each build with ARGS and --runs 1,
alternating which goes first each round, so that a slow spell of the machine
falls on both alike. It reads the Markdown tables both print and reports, for
every row whose cells contain S (default "nanorun") and every numeric column,
the median over the rounds for BASE and for this tree and their ratio
(this / BASE). Whether higher is better depends on the column (a rate or a
cost); the column's header says which. The io_context rows run in both builds
too: their ratio shows how much the machine drifted between the two.

Needs git, cmake, ninja and a C++ toolchain, as the main build does.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGURE = ["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DNANORUN_BUILD_BENCH=ON",
             "-DNANORUN_BUILD_TESTS=OFF", "-DNANORUN_BUILD_EXAMPLES=OFF"]


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def build(src, out, target):
    # Configured every time: an existing tree (build/release) is set to
    # Release with the benchmarks, whatever it was before.
    run(["cmake", "-S", src, "-B", out] + CONFIGURE, stdout=subprocess.DEVNULL)
    run(["cmake", "--build", out, "--target", target, "-j", "2"])
    return os.path.join(out, "bench", target)


NUMBER = re.compile(r"^\s*\**(-?[0-9]+(?:\.[0-9]+)?)")


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse(text):
    """{(heading, row key, column): value} for every numeric cell of every table."""
    out = {}
    heading, header, in_table = "", None, False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#") or line.startswith("**"):
            heading = line.replace("**", "").strip("# ").strip()
            in_table = False
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if re.match(r"^\|[-:| ]+\|$", line.strip()):
            header = cells(lines[i - 1]) if i > 0 else None
            in_table = True
            continue
        if not in_table or header is None:
            continue
        row = cells(line)
        # The row's name: its cells before the first number (later text cells,
        # such as a status column, vary between runs and are not part of it).
        key, named = [], False
        for col, value in zip(header, row):
            m = NUMBER.match(value)
            if m is None:
                if not named:
                    key.append(value)
                continue
            named = True
            out[(heading, " | ".join(key), col)] = float(m.group(1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base")
    ap.add_argument("--rounds", type=int, default=5, help="at least 1")
    ap.add_argument("--match", default="nanorun")
    ap.add_argument("--keep", action="store_true", help="keep the worktree and its build (a later run reuses them)")
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        ap.error("name the benchmark after --")
    cut = argv.index("--")
    a = ap.parse_args(argv[:cut])
    bench = argv[cut + 1:]
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    target, args = bench[0], bench[1:]

    sha = run(["git", "-C", ROOT, "rev-parse", "--short", a.base + "^{commit}"],
              capture_output=True, text=True).stdout.strip()
    tree = os.path.join(ROOT, "build", "ab", "src-" + sha)
    if not os.path.isdir(tree):
        run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, sha])
    try:
        base_exe = build(tree, os.path.join(ROOT, "build", "ab", sha), target)
        this_exe = build(ROOT, os.path.join(ROOT, "build", "release"), target)
        results = {"base": [], "this": []}
        for r in range(a.rounds):
            order = ["base", "this"] if r % 2 == 0 else ["this", "base"]
            for who in order:
                exe = base_exe if who == "base" else this_exe
                p = subprocess.run([exe] + args + ["--runs", "1"], capture_output=True, text=True)
                if p.returncode not in (0, 1):
                    sys.exit(f"{who} ({exe}) failed with exit code {p.returncode}:\n{p.stderr[-2000:]}")
                results[who].append(parse(p.stdout))
                print(f"round {r + 1}: {who} done", file=sys.stderr)
    finally:
        if not a.keep:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree])
            shutil.rmtree(os.path.join(ROOT, "build", "ab", sha), ignore_errors=True)

    keys = sorted(set().union(*results["base"]) & set().union(*results["this"]))
    print(f"# {target} {' '.join(args)}: this tree against {sha}\n")
    print(f"Medians of {a.rounds} rounds, each running both builds once (the first alternates). "
          "ratio = this / base.\n")
    last = None
    for heading, row, col in keys:
        if a.match not in row:
            continue
        if heading != last:
            print(f"\n**{heading}**\n\n| row | column | base | this | ratio |\n|---|---|--:|--:|--:|")
            last = heading
        b = [x[(heading, row, col)] for x in results["base"] if (heading, row, col) in x]
        t = [x[(heading, row, col)] for x in results["this"] if (heading, row, col) in x]
        mb, mt = statistics.median(b), statistics.median(t)
        ratio = f"{mt / mb:.2f}" if mb else "-"
        print(f"| {row} | {col} | {mb:g} | {mt:g} | {ratio} |")


if __name__ == "__main__":
    main()
