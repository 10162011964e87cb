"""Benchmark braggflow.phil on a synthetic ~1500-definition master (dials.integrate-sized).

    python benchmarks/bench_phil.py [--repeat N] [--definitions N]

Prints the median time of parse, fetch, as_str, extract, format and fetch_diff. When
``/work/main/.venv-cctbx`` (or ``$BF_CCTBX_PYTHON``) has cctbx-base installed, the same
steps are timed with libtbx.phil in a subprocess and the ratio is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CCTBX_PYTHON = Path(os.environ.get("BF_CCTBX_PYTHON", REPO / ".venv-cctbx" / "bin" / "python"))

_TYPES = [
    ("int(value_min=0)", lambda r: str(r.randint(0, 100))),
    ("float(value_min=0)", lambda r: f"{r.uniform(0, 10):.3f}"),
    ("bool", lambda r: r.choice(["True", "False"])),
    ("str", lambda r: f'"{r.choice(["alpha", "beta gamma", "x.refl"])}"'),
    ("ints(size=2)", lambda r: f"{r.randint(1, 9)} {r.randint(1, 9)}"),
    ("floats", lambda r: " ".join(f"{r.uniform(0, 1):.2f}" for _ in range(3))),
    ("choice", lambda r: "*auto profile sum scale"),
    ("path", lambda r: "None"),
]


def make_master(n_definitions: int, seed: int = 1) -> str:
    """Nested scopes (depth <= 4) with typed, documented definitions."""
    rng = random.Random(seed)
    lines: list[str] = []
    count = 0
    scope_id = 0

    def emit_scope(depth: int, indent: str) -> None:
        nonlocal count, scope_id
        n_defs = rng.randint(3, 12)
        for i in range(n_defs):
            if count >= n_definitions:
                return
            t, value = rng.choice(_TYPES)
            lines.append(f"{indent}param_{count}_{i} = {value(rng)}")
            lines.append(f"{indent}  .type = {t}")
            lines.append(
                f'{indent}  .help = "Parameter {count} controls the behaviour of one step of the'
                ' integration; see the documentation for the details of its effect."'
            )
            if rng.random() < 0.3:
                lines.append(f"{indent}  .expert_level = {rng.randint(1, 3)}")
            count += 1
        if depth < 4:
            for _ in range(rng.randint(1, 3)):
                if count >= n_definitions:
                    return
                scope_id += 1
                multiple = "\n" + indent + "  .multiple = True" if rng.random() < 0.05 else ""
                lines.append(f"{indent}scope_{scope_id}{multiple}")
                lines.append(f'{indent}  .help = "Scope {scope_id}."')
                lines.append(f"{indent}{{")
                emit_scope(depth + 1, indent + "  ")
                lines.append(f"{indent}}}")

    while count < n_definitions:
        scope_id += 1
        lines.append(f"top_{scope_id} {{")
        emit_scope(1, "  ")
        lines.append("}")
    return "\n".join(lines) + "\n"


def make_user(master_text: str, n: int = 30, seed: int = 2) -> str:
    """A user phil setting ``n`` int-typed, single-valued definitions by their full paths."""
    from braggflow import phil

    rng = random.Random(seed)
    master = phil.parse(master_text)
    paths = [
        loc.path
        for loc in master.all_definitions()
        if str(loc.object.type).startswith("int(") and ".multiple" not in loc.path
    ]
    chosen = rng.sample(paths, min(n, len(paths)))
    return "\n".join(f"{p} = {rng.randint(0, 100)}" for p in chosen) + "\n"


def time_steps(phil_module, master_text: str, user_text: str, repeat: int) -> dict[str, float]:
    """Median seconds of each step; works with braggflow.phil and libtbx.phil."""
    results: dict[str, list[float]] = {}

    def timed(name: str, fn):
        t0 = time.perf_counter()
        value = fn()
        results.setdefault(name, []).append(time.perf_counter() - t0)
        return value

    for _ in range(repeat):
        master = timed("parse master", lambda: phil_module.parse(master_text))
        user = timed("parse user", lambda: phil_module.parse(user_text))
        working = timed("fetch", lambda: master.fetch(source=user))
        timed("as_str (level 0)", lambda: working.as_str())
        timed("as_str (level 2)", lambda: working.as_str(attributes_level=2))
        params = timed("extract", lambda: working.extract())
        formatted = timed("format", lambda: master.format(python_object=params))
        timed("fetch_diff", lambda: master.fetch_diff(source=formatted))
    return {k: statistics.median(v) for k, v in results.items()}


def _run_libtbx(master_file: str, user_file: str, repeat: int) -> dict[str, float] | None:
    if not CCTBX_PYTHON.exists():
        return None
    code = (
        "import json, sys, libtbx.phil as P\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from bench_phil import time_steps\n"
        f"m = open({master_file!r}).read(); u = open({user_file!r}).read()\n"
        f"print(json.dumps(time_steps(P, m, u, {repeat})))\n"
    )
    proc = subprocess.run([str(CCTBX_PYTHON), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"(libtbx comparison skipped: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--definitions", type=int, default=1500)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from braggflow import phil

    master_text = make_master(args.definitions)
    user_text = make_user(master_text)
    n_defs = len(phil.parse(master_text).all_definitions())
    print(f"master: {n_defs} definitions, {len(master_text.splitlines())} lines;"
          f" user: {len(user_text.splitlines())} overrides; median of {args.repeat} runs")
    ours = time_steps(phil, master_text, user_text, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        mf, uf = os.path.join(tmp, "master.phil"), os.path.join(tmp, "user.phil")
        Path(mf).write_text(master_text)
        Path(uf).write_text(user_text)
        theirs = _run_libtbx(mf, uf, args.repeat)
    header = f"{'step':<18} {'braggflow ms':>13}"
    if theirs:
        header += f" {'libtbx ms':>10} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for step, seconds in ours.items():
        row = f"{step:<18} {seconds * 1e3:13.1f}"
        if theirs and step in theirs:
            row += f" {theirs[step] * 1e3:10.1f} {seconds / theirs[step]:7.2f}"
        print(row)
    total = sum(ours.values())
    row = f"{'total':<18} {total * 1e3:13.1f}"
    if theirs:
        t2 = sum(theirs.values())
        row += f" {t2 * 1e3:10.1f} {total / t2:7.2f}"
    print(row)
    if not theirs:
        print(f"(no libtbx comparison: {CCTBX_PYTHON} not found)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
