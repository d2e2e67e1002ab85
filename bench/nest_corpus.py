"""Acceptance corpus: how many of NEST 3.10's own example scripts run unchanged under cortex_gpu.pynest.

``python bench/nest_corpus.py [--only NAME ...] [--all] [--json PATH] [--timeout S]``

Every script of the corpus (issue 15, item 3; ``CORPUS`` below) is taken from the installed nest-simulator
wheel (``<site-packages>/nest/doc/examples/pynest/``, found with importlib without importing NEST here) and
run twice, each run in its own subprocess and its own temporary working directory with ``MPLBACKEND=Agg``
and a timeout: once as shipped under NEST, once with only its import lines rewritten to
``cortex_gpu.pynest`` (:func:`rewrite_imports`). Sibling modules a script imports (the Brette et al.
scripts import ``brette_et_al_2007_benchmark``) are copied next to it and rewritten the same way. Scripts
are shortened ONLY by changing their simulated time (``SUBSTITUTIONS``: regex, replacement, why), applied
identically to both runs. ``bench/corpus_driver.py`` runs each script and collects the events of every
recorder plus the kernel's figures at the end; :func:`compare` then classifies the script:

``agrees``
    Both ran and the results match. Deterministic scripts: same network size, node models, biological
    time and connection count, identical spike senders and times (as multisets: the order within one
    step is not part of NEST's contract), on every analog recorder the same senders, times and number
    of samples and ``|d| <= 1e-9`` (mV for V_m) on every recorded variable. Stochastic scripts (random
    streams differ from NEST's, so no spike can be matched): same network size, node models, biological
    time and recorder layout; every spike/weight recorder's event count within
    ``5 sqrt(n_nest + n_ours) + 0.05 max(n_nest, n_ours)`` of NEST's: for two independent Poisson
    counts of one mean the difference has variance ``n_nest + n_ours``, so 5 sigma misclassifies a
    correct simulator with probability below 1e-6 per recorder, and the 5 % term allows for what
    Poisson statistics do not cover, the network realisation (a different connectivity draw moves a
    balanced network's rate by a few percent) and the over-dispersion of correlated network spiking;
    the connection count within the same bound (exact for fixed in-/out-degree rules, binomial for
    Bernoulli ones); analog recorders with the same senders, times and sample count and every
    variable's mean within half the mean of the two standard deviations (plus 1e-9): a loose check
    that catches a missing or wrong drive, not a proof of equal statistics.
``differs``
    Both ran, results differ: the detail says what first differed.
``fails``
    Ours raised (or timed out or crashed): exception class, message and the script line it stopped at.
``nest_fails``
    NEST itself failed (missing module, timeout, ...): reported, excluded from the denominator.
``not_shipped``
    The wheel does not ship the script (Potjans_2014): reported, excluded from the denominator.

Which scripts are stochastic is detected from their source (:func:`stochastic_reason`): a script, or a
sibling module it imports, that mentions a random source (``poisson_generator``, ``noise_generator``,
``nest.random``, NumPy's random module, a probabilistic connection rule, ...) is stochastic. Detection
rather than a hand table keeps ``--all`` usable; the reason (the first token found) is in each record.

The last line printed is ``N/M scripts run unchanged and agree`` over the item 3 corpus (the selected part
of it with ``--only``); ``--all`` also runs every other top-level example and reports those separately.
A JSON record goes to ``bench/results/nest_corpus_<date>_<commit>.json`` unless ``--json`` says otherwise.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().parent / "corpus_driver.py"

#: Issue 15, item 3: (name, path relative to the examples directory).
CORPUS: list[tuple[str, str]] = [
    ("one_neuron", "one_neuron.py"),
    ("one_neuron_with_noise", "one_neuron_with_noise.py"),
    ("twoneurons", "twoneurons.py"),
    ("balancedneuron", "balancedneuron.py"),
    ("testiaf", "testiaf.py"),
    ("repeated_stimulation", "repeated_stimulation.py"),
    ("CampbellSiegert", "CampbellSiegert.py"),
    ("recording_demo", "recording_demo.py"),
    ("plot_weight_matrices", "plot_weight_matrices.py"),
    ("synapsecollection", "synapsecollection.py"),
    ("brunel_alpha_nest", "brunel_alpha_nest.py"),
    ("brunel_delta_nest", "brunel_delta_nest.py"),
    ("brunel_exp_multisynapse_nest", "brunel_exp_multisynapse_nest.py"),
    ("brunel_alpha_evolution_strategies", "brunel_alpha_evolution_strategies.py"),
    ("hpc_benchmark", "hpc_benchmark.py"),
    ("brette_et_al_2007/cuba", "brette_et_al_2007/cuba.py"),
    ("brette_et_al_2007/coba", "brette_et_al_2007/coba.py"),
    ("Potjans_2014", "Potjans_2014/run_microcircuit.py"),
    ("ignore_and_spike_mechanism", "ignore_and_spike_mechanism.py"),
    ("sensitivity_to_perturbation", "sensitivity_to_perturbation.py"),
    ("vinit_example", "vinit_example.py"),
    ("multimeter_file", "multimeter_file.py"),
]

#: Per script: (regex, replacement, why). Only simulated time is changed, identically for NEST and ours.
SUBSTITUTIONS: dict[str, list[tuple[str, str, str]]] = {
    "balancedneuron": [(r"t_sim = 25000\.0", "t_sim = 2500.0",
                        "each bisection step simulates t_sim; 10x shorter keeps ~15 steps within minutes")],
    "CampbellSiegert": [(r"simtime = 20000\b", "simtime = 2000",
                         "20 s of 10 neurons is minutes on a shared 2-core machine; the rate is still "
                         "estimated from ~hundreds of spikes")],
    "brunel_alpha_nest": [(r"simtime = 1000\.0", "simtime = 300.0",
                           "12500 neurons: 0.3 s of model time is enough to compare rates")],
    "brunel_delta_nest": [(r"simtime = 1000\.0", "simtime = 300.0",
                           "12500 neurons: 0.3 s of model time is enough to compare rates")],
    "brunel_exp_multisynapse_nest": [(r"simtime = 1000\.0", "simtime = 300.0",
                                      "12500 neurons: 0.3 s of model time is enough to compare rates")],
    "brunel_alpha_evolution_strategies": [
        (r'"sim_time": 1000\.0', '"sim_time": 400.0',
         "20 generations x a population of simulations; 400 ms still exceeds the 300 ms warm-up the "
         "analysis discards")],
    "hpc_benchmark": [(r'"simtime": 250\.0', '"simtime": 50.0',
                       "the build (126 M synapses at scale 1) dominates; 50 ms after the 50 ms presim suffice")],
    "brette_et_al_2007/cuba": [(r'"simtime": 10000\.0', '"simtime": 1000.0',
                                "10 s of 4000 neurons; 1 s as in coba")],
    "brette_et_al_2007/coba": [(r'"simtime": 1000\.0', '"simtime": 500.0',
                                "conductance network; 0.5 s of model time is enough to compare rates")],
    "sensitivity_to_perturbation": [(r"T = 1000\.0", "T = 500.0",
                                     "two trials at dt = 0.01 ms; the perturbation is at 400 ms, before T")],
}

#: Tokens that make a script stochastic (its random stream differs between NEST and ours).
RANDOM_SOURCES = [
    "poisson_generator", "noise_generator", "sinusoidal_poisson_generator", "gamma_sup_generator",
    "ppd_sup_generator", "mip_generator", "inhomogeneous_poisson_generator", "pulsepacket_generator",
    "nest.random", "np.random", "numpy.random", "import random", "pairwise_bernoulli", "fixed_indegree",
    "fixed_outdegree", "fixed_total_number", "symmetric_pairwise_bernoulli", "pairwise_poisson",
]

_IMPORT_SUBMODULE = re.compile(r"^(\s*)import\s+nest\.(voltage_trace|raster_plot|visualization|random|math)\s*$")
_IMPORT_NEST = re.compile(r"^(\s*)import\s+nest(\s+as\s+\w+)?\s*(#.*)?$")
_FROM_NEST = re.compile(r"^(\s*)from\s+nest((?:\.\w+)*)\s+import\s+")


def rewrite_imports(source: str) -> tuple[str, list[str]]:
    """The script with its ``nest`` imports pointing at ``cortex_gpu.pynest``; also the lines changed.

    ``import nest`` and ``import nest as X`` keep their name; ``import nest.voltage_trace`` (and the other
    PyNEST submodules) becomes ``import cortex_gpu.pynest as nest``, so ``nest.voltage_trace.from_device``
    asks our module for the submodule; ``from nest[.sub] import X`` becomes
    ``from cortex_gpu.pynest[.sub] import X``. Nothing else in the script changes.
    """
    out, changed = [], []
    for line in source.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = line[len(body):]
        new = body
        if m := _IMPORT_SUBMODULE.match(body):
            new = f"{m.group(1)}import cortex_gpu.pynest as nest"
        elif m := _IMPORT_NEST.match(body):
            new = f"{m.group(1)}import cortex_gpu.pynest as {(m.group(2) or ' as nest').split()[-1]}"
        elif m := _FROM_NEST.match(body):
            new = f"{m.group(1)}from cortex_gpu.pynest{m.group(2)} import " + body[m.end():]
        if new != body:
            changed.append(f"{body.strip()} -> {new.strip()}")
        out.append(new + end)
    return "".join(out), changed


def apply_substitutions(source: str, subs: list[tuple[str, str, str]]) -> tuple[str, list[dict[str, Any]]]:
    """``source`` with every substitution applied; each one's count (0 means the table is out of date)."""
    used = []
    for pattern, repl, why in subs:
        source, count = re.subn(pattern, repl, source)
        used.append({"pattern": pattern, "replacement": repl, "why": why, "count": count})
    return source, used


def sibling_modules(script: Path) -> list[Path]:
    """Modules next to ``script`` that it imports (``import x`` / ``from x import``), transitively."""
    found: list[Path] = []
    todo = [script]
    while todo:
        text = todo.pop().read_text()
        for name in re.findall(r"^\s*(?:from\s+(\w+)\s+import|import\s+(\w+))", text, re.M):
            mod = script.parent / f"{name[0] or name[1]}.py"
            if mod.is_file() and mod != script and mod not in found:
                found.append(mod)
                todo.append(mod)
    return found


def stochastic_reason(script: Path) -> str | None:
    """The first random source the script (or a sibling module it imports) mentions, or None."""
    for path in [script, *sibling_modules(script)]:
        text = path.read_text()
        for token in RANDOM_SOURCES:
            if token in text:
                return f"{token} ({path.name})"
    return None


def examples_dir() -> Path:
    """``<site-packages>/nest/doc/examples/pynest`` of the installed wheel, found without importing nest."""
    spec = importlib.util.find_spec("nest")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nest-simulator is not installed: no 'nest' package on sys.path")
    return Path(list(spec.submodule_search_locations)[0]) / "doc" / "examples" / "pynest"


def prepare(script: Path, workdir: Path, ours: bool, subs: list[tuple[str, str, str]]) -> tuple[Path, dict]:
    """Copy ``script`` and the sibling modules it imports into ``workdir``, substituted and maybe rewritten."""
    notes: dict[str, Any] = {"rewritten": [], "substitutions": []}
    for i, path in enumerate([script, *sibling_modules(script)]):
        text = path.read_text()
        if i == 0:
            text, notes["substitutions"] = apply_substitutions(text, subs)
        if ours:
            text, changed = rewrite_imports(text)
            notes["rewritten"] += [f"{path.name}: {c}" for c in changed]
        (workdir / path.name).write_text(text)
    return workdir / script.name, notes


def run_driver(module: str, script: Path, timeout_s: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One run of ``corpus_driver.py`` in the script's directory; its status and recorded arrays."""
    out = script.parent / "_corpus_result"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    env.setdefault("OMP_WAIT_POLICY", "passive")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(DRIVER), module, str(script), str(out)], cwd=script.parent,
                              env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stdout or b"")[-1500:] if isinstance(exc.stdout, bytes) else (exc.stdout or "")[-1500:]
        return {"ok": False, "seconds": time.perf_counter() - t0, "stdout_tail": str(tail),
                "exception": {"class": "Timeout", "message": f"no result within {timeout_s:g} s",
                              "where": None}}, {}
    wall = time.perf_counter() - t0
    status_file = Path(str(out) + ".json")
    if not status_file.is_file():
        return {"ok": False, "seconds": wall, "stdout_tail": proc.stdout[-1500:],
                "exception": {"class": "Crash", "message": f"exit code {proc.returncode}: {proc.stderr[-800:]}",
                              "where": None}}, {}
    status = json.loads(status_file.read_text())
    status["wall_s"] = wall
    status["stdout_tail"] = proc.stdout[-1500:]
    with np.load(str(out) + ".npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    return status, arrays


# ----------------------------------------------------------------------------------------------- comparison

def _count_bound(a: int, b: int) -> float:
    """Allowed |a - b| for two event counts of stochastic runs (see the module docstring)."""
    return 5.0 * math.sqrt(a + b) + 0.05 * max(a, b)


def _order(arrays: dict[str, np.ndarray], prefix: str, keys: list[str]) -> np.ndarray:
    """The permutation sorting a recorder's events by (time, sender, the other keys)."""
    cols = [np.asarray(arrays[prefix + k], dtype=float) for k in reversed(keys) if prefix + k in arrays]
    return np.lexsort(cols) if cols else np.arange(0)


def _time_key(keys: list[str]) -> str:
    return "times" if "times" in keys else ("times_steps" if "times_steps" in keys else "")


def compare_recorder(rec: dict, a: dict[str, np.ndarray], b: dict[str, np.ndarray], stochastic: bool) -> str | None:
    """None if recorder ``rec`` of NEST (``a``) and ours (``b``) agree, else what differs."""
    rid, model = rec["id"], rec["model"]
    p = f"r{rid}__"
    ka = sorted(k[len(p):] for k in a if k.startswith(p))
    kb = sorted(k[len(p):] for k in b if k.startswith(p))
    if ka != kb:
        return f"recorder {rid} ({model}): event keys differ: NEST {ka}, ours {kb}"
    tkey = _time_key(ka)
    n_a = len(a[p + tkey]) if tkey else 0
    n_b = len(b[p + tkey]) if tkey else 0
    if model in ("spike_recorder", "weight_recorder"):
        if stochastic:
            if abs(n_a - n_b) > _count_bound(n_a, n_b):
                return (f"recorder {rid} ({model}): {n_b} events, NEST {n_a} "
                        f"(bound {_count_bound(n_a, n_b):.0f})")
            return None
        if n_a != n_b:
            return f"recorder {rid} ({model}): {n_b} events, NEST {n_a}"
        order_keys = [tkey, "senders", "targets", "offsets", "weights"]
        oa, ob = _order(a, p, order_keys), _order(b, p, order_keys)
        for k in ka:
            va, vb = np.asarray(a[p + k], dtype=float)[oa], np.asarray(b[p + k], dtype=float)[ob]
            tol = 1e-9 if k in ("weights", "offsets") else 0.0
            bad = np.flatnonzero(np.abs(va - vb) > tol)
            if bad.size:
                i = bad[0]
                return (f"recorder {rid} ({model}): '{k}' differs at {bad.size} of {n_a} events, first: "
                        f"ours {vb[i]!r}, NEST {va[i]!r}")
        return None
    # multimeter / voltmeter: samples are on a fixed grid, so they are matched one to one after sorting
    if n_a != n_b:
        return f"recorder {rid} ({model}): {n_b} samples, NEST {n_a}"
    oa, ob = _order(a, p, [tkey, "senders"]), _order(b, p, [tkey, "senders"])
    for k in ka:
        va, vb = np.asarray(a[p + k], dtype=float)[oa], np.asarray(b[p + k], dtype=float)[ob]
        if k in (tkey, "senders"):
            if not np.array_equal(va, vb):
                return f"recorder {rid} ({model}): sample '{k}' differ"
            continue
        if stochastic:
            tol = 0.25 * (va.std() + vb.std()) + 1e-9
            if n_a and abs(va.mean() - vb.mean()) > tol:
                return (f"recorder {rid} ({model}): mean of '{k}' ours {vb.mean():.6g}, NEST {va.mean():.6g} "
                        f"(tolerance {tol:.3g})")
            continue
        if n_a:
            d = np.abs(va - vb)
            if not np.all(d <= 1e-9):
                i = int(np.nanargmax(np.where(np.isnan(d), np.inf, d)))
                return (f"recorder {rid} ({model}): max |d {k}| = {d[i]:.3g} at t = {a[p + tkey][oa][i]:g} "
                        f"(ours {vb[i]:.12g}, NEST {va[i]:.12g}), {np.count_nonzero(d > 1e-9)} of {n_a} > 1e-9")
    return None


def compare(nest_run: dict, nest_arrays: dict, our_run: dict, our_arrays: dict, stochastic: bool) -> tuple[str, str]:
    """(class, detail) of one script from its two runs; see the module docstring for the classes."""
    if not nest_run.get("ok"):
        return "nest_fails", _describe_exception(nest_run.get("exception"))
    if "collect_error" in nest_run:
        return "nest_fails", "collecting NEST's results: " + _describe_exception(nest_run["collect_error"])
    if not our_run.get("ok"):
        return "fails", _describe_exception(our_run.get("exception"))
    if "collect_error" in our_run:
        return "fails", "collecting our results: " + _describe_exception(our_run["collect_error"])
    ka, kb = nest_run["kernel"], our_run["kernel"]
    if kb.get("missing_api"):
        return "differs", "driver needs PyNEST API ours lacks: " + "; ".join(kb["missing_api"])
    for key in ("network_size", "biological_time"):
        if ka.get(key) != kb.get(key):
            return "differs", f"{key}: ours {kb.get(key)!r}, NEST {ka.get(key)!r}"
    if ka.get("models") != kb.get("models"):
        ma, mb = ka.get("models") or [], kb.get("models") or []
        i = next((i for i, (x, y) in enumerate(zip(ma, mb)) if x != y), min(len(ma), len(mb)))
        return "differs", f"node models differ from node {i + 1}: ours {mb[i:i + 1]}, NEST {ma[i:i + 1]}"
    ca, cb = ka.get("num_connections"), kb.get("num_connections")
    if ca is not None and cb is not None and ca != cb and (not stochastic or abs(ca - cb) > _count_bound(ca, cb)):
        return "differs", f"num_connections: ours {cb}, NEST {ca}"
    for rec in ka.get("recorders", []):
        why = compare_recorder(rec, nest_arrays, our_arrays, stochastic)
        if why:
            return "differs", why
    n_rec = len(ka.get("recorders", []))
    n_ev = sum(int(r.get("n_events", 0)) for r in ka.get("recorders", []))
    how = "statistics within tolerance" if stochastic else "identical"
    return "agrees", f"{n_rec} recorders, {n_ev} events, {how}"


def _describe_exception(exc: dict | None) -> str:
    if not exc:
        return "no status"
    where = exc.get("where")
    at = f" [{where['file']}:{where['line']}: {where['code']}]" if where else ""
    msg = " ".join(str(exc.get("message", "")).split())[:300]
    return f"{exc.get('class')}: {msg}{at}"


# ---------------------------------------------------------------------------------------------------- runner

def run_example(name: str, rel: str, root: Path, timeout_s: float) -> dict[str, Any]:
    """Both runs of one example and its classification, as one JSON-ready record."""
    script = root / rel
    record: dict[str, Any] = {"name": name, "path": rel}
    if not script.is_file():
        record.update({"class": "not_shipped", "detail": f"the nest-simulator wheel has no {rel}",
                       "stochastic": None})
        return record
    reason = stochastic_reason(script)
    record["stochastic"] = reason is not None
    record["stochastic_reason"] = reason
    subs = SUBSTITUTIONS.get(name, [])
    runs: dict[str, tuple[dict, dict]] = {}
    for who, module in (("nest", "nest"), ("ours", "cortex_gpu.pynest")):
        with tempfile.TemporaryDirectory(prefix=f"corpus_{who}_") as tmp:
            copy, notes = prepare(script, Path(tmp), who == "ours", subs)
            status, arrays = run_driver(module, copy, timeout_s)
        record["substitutions"] = notes["substitutions"]
        if who == "ours":
            record["rewritten_imports"] = notes["rewritten"]
        runs[who] = (status, arrays)
        record[who] = {k: status.get(k) for k in ("ok", "seconds", "wall_s", "exception", "collect_error",
                                                    "stdout_tail")}
        if "kernel" in status:
            record[who]["kernel"] = {k: v for k, v in status["kernel"].items() if k != "models"}
    (na, aa), (nb, ab) = runs["nest"], runs["ours"]
    record["class"], record["detail"] = compare(na, aa, nb, ab, record["stochastic"])
    return record


def _versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version
    out: dict[str, Any] = {"python": sys.version.split()[0]}
    for pkg in ("nest-simulator", "numpy", "numba", "scipy", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD") or None, "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def headline(records: list[dict]) -> str:
    """``N/M scripts run unchanged and agree``; M leaves out nest_fails and not_shipped."""
    counted = [r for r in records if r["class"] not in ("nest_fails", "not_shipped")]
    return f"{sum(r['class'] == 'agrees' for r in counted)}/{len(counted)} scripts run unchanged and agree"


def _table(records: list[dict]) -> str:
    lines = [f"{'script':36s} {'class':12s} {'ours s':>7s} {'NEST s':>7s}  detail"]
    for r in records:
        t_o = (r.get("ours") or {}).get("wall_s")
        t_n = (r.get("nest") or {}).get("wall_s")
        fmt = lambda t: f"{t:7.1f}" if t is not None else f"{'-':>7s}"  # noqa: E731
        lines.append(f"{r['name']:36s} {r['class']:12s} {fmt(t_o)} {fmt(t_n)}  {r['detail']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these corpus (or, with --all, other) scripts")
    ap.add_argument("--all", action="store_true", help="also run every other top-level example, reported apart")
    ap.add_argument("--json", type=Path, help="output JSON (default bench/results/nest_corpus_<date>_<commit>.json)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run (each of NEST and ours)")
    args = ap.parse_args(argv)

    root = examples_dir()
    names = {n for n, _ in CORPUS}
    corpus = [(n, p) for n, p in CORPUS if not args.only or n in args.only]
    others: list[tuple[str, str]] = []
    if args.all:
        others = [(p.stem, p.name) for p in sorted(root.glob("*.py")) if p.stem not in names]
        if args.only:
            others = [(n, p) for n, p in others if n in args.only]
    unknown = set(args.only or []) - names - {n for n, _ in others}
    if unknown:
        ap.error(f"not in the corpus: {sorted(unknown)} (other examples need --all)")

    started = _dt.datetime.now(_dt.timezone.utc)
    records, other_records = [], []
    for group, out in ((corpus, records), (others, other_records)):
        for name, rel in group:
            print(f"[{_dt.datetime.now():%H:%M:%S}] {name} ...", file=sys.stderr, flush=True)
            rec = run_example(name, rel, root, args.timeout)
            print(f"    {rec['class']}: {rec['detail']}", file=sys.stderr, flush=True)
            out.append(rec)

    git = _git()
    result = {"date": started.isoformat(timespec="seconds"), "git": git, "versions": _versions(),
              "examples_dir": str(root), "timeout_s": args.timeout, "count_bound": "5 sqrt(a+b) + 0.05 max(a,b)",
              "substitutions": {k: [list(s) for s in v] for k, v in SUBSTITUTIONS.items()},
              "headline": headline(records), "corpus": records, "others": other_records}
    if other_records:
        result["others_headline"] = headline(other_records)
    path = args.json or (REPO / "bench" / "results" /
                         f"nest_corpus_{started:%Y%m%d-%H%M%S}_{(git['commit'] or 'nogit')[:8]}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"JSON: {path}")
    if other_records:
        print("\nOther examples (not in the headline):")
        print(_table(other_records))
        print(result["others_headline"].replace("scripts", "other scripts"))
        print()
    print(_table(records))
    print(result["headline"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
