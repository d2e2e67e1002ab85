"""NEST 3.10's own pytest suite run against ``cortex_gpu.pynest``: how many of NEST's tests pass on our layer.

The nest-simulator wheel ships its pytest suite (``nest/share/nest/testsuite/pytests/``). This script copies
it to a scratch folder and runs the *relevant* test files twice in separate pytest processes: once with NEST
itself (the baseline: tests NEST's wheel passes here) and once with ``nest`` resolving to
``cortex_gpu.pynest``. The switch is a ``conftest.py`` put above NEST's own, which, before NEST's conftest
imports ``nest``, registers ``cortex_gpu.pynest`` and each of its submodules under the names ``nest`` and
``nest.<submodule>``; the test files are not edited. A test that needs PyNEST API the layer lacks errors or
fails there, as a user's script would.

Relevant files: those in the feature folders the layer covers (neurons, synapses, connect, recording,
stimulating, other, regressions) whose quoted NEST model names are all models ``cortex_gpu.pynest``
provides (``nest.node_models`` + ``nest.synapse_models``); folders for spatial networks, MPI and structural
plasticity are left out, since the layer refuses those features. Each test gets ``--per-test-timeout``
seconds (a SIGALRM in the injected conftest), so one hanging test cannot stop the run.

Output: JSON (default ``bench/results/nest_pytests_<date>_<commit>.json``) with, per file, the outcome of
every test under NEST and under ours, and the headline: of the tests NEST passes and ours collects, how many
pass on ours. Tests ours does not collect are counted apart: NEST parametrizes many tests over its whole
model list (``nest.node_models``), and a file that fails to import on ours yields one error, not its tests.

    python bench/nest_pytests.py [--only neurons/test_iaf_psc_alpha.py ...] [--json PATH]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: NEST's test folders whose features the PyNEST layer covers
FOLDERS = ("neurons", "synapses", "connect", "recording", "stimulating", "other", "regressions")

#: put above NEST's own conftest.py: makes ``import nest`` give cortex_gpu.pynest when asked, and times tests
SWITCH_CONFTEST = '''\
import importlib
import os
import pkgutil
import signal
import sys

import pytest

if os.environ.get("CG_NEST_MODULE") == "cortex_gpu.pynest":
    import cortex_gpu.pynest as _ours
    for _info in pkgutil.iter_modules(_ours.__path__):
        importlib.import_module("cortex_gpu.pynest." + _info.name)
    for _name, _module in list(sys.modules.items()):
        if _name == "cortex_gpu.pynest" or _name.startswith("cortex_gpu.pynest."):
            sys.modules["nest" + _name[len("cortex_gpu.pynest"):]] = _module

_LIMIT_S = int(os.environ.get("CG_PER_TEST_TIMEOUT", "60"))


def _expire(signum, frame):
    raise TimeoutError(f"test ran past {_LIMIT_S} s (bench/nest_pytests.py --per-test-timeout)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    signal.signal(signal.SIGALRM, _expire)
    signal.alarm(_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
'''


def testsuite_dir() -> Path:
    import nest
    return Path(nest.__file__).resolve().parent / "share" / "nest" / "testsuite" / "pytests"


def model_names() -> tuple[set[str], set[str]]:
    """(every model NEST 3.10 has, every model cortex_gpu.pynest provides)."""
    import nest

    import cortex_gpu.pynest as ours
    theirs = set(nest.node_models) | set(nest.synapse_models)
    mine = set(ours.node_models) | set(ours.synapse_models)
    return theirs, mine


def relevant_files(root: Path, theirs: set[str], mine: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Test files (relative to ``root``) naming only models we provide; and, for the others, what they lack."""
    keep, left_out = [], {}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("test_*.py")):
            named = set(re.findall(r"[\"']([A-Za-z0-9_]+)[\"']", path.read_text(errors="replace"))) & theirs
            missing = sorted(named - mine)
            rel = str(path.relative_to(root))
            if missing:
                left_out[rel] = missing
            else:
                keep.append(rel)
    return keep, left_out


def run_pytest(workdir: Path, files: list[str], module: str, per_test_s: int, timeout_s: int) -> dict[str, str]:
    """Outcome of each test id (``passed``, ``failed``, ``error``, ``skipped``) with ``module`` as ``nest``."""
    xml = workdir / f"junit_{module.replace('.', '_')}.xml"
    env = dict(os.environ, CG_NEST_MODULE=module, CG_PER_TEST_TIMEOUT=str(per_test_s), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           "--continue-on-collection-errors",
           f"--junitxml={xml}", "--rootdir", str(workdir), *files]
    try:
        subprocess.run(cmd, cwd=workdir / "pytests", env=env, capture_output=True, text=True, timeout=timeout_s,
                       stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass
    if not xml.exists():
        return {}
    outcomes = {}
    for case in ElementTree.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcomes[name] = ("failed" if "failure" in kinds else "error" if "error" in kinds
                          else "skipped" if "skipped" in kinds else "passed")
    return outcomes


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="FILE", help="run only these files (relative to pytests/)")
    ap.add_argument("--json", type=Path, help="output JSON")
    ap.add_argument("--per-test-timeout", type=int, default=60, help="seconds per test")
    ap.add_argument("--timeout", type=int, default=3000, help="seconds per pytest run (NEST's, then ours)")
    args = ap.parse_args(argv)
    root = testsuite_dir()
    theirs, mine = model_names()
    files, left_out = relevant_files(root, theirs, mine)
    if args.only:
        unknown = [f for f in args.only if not (root / f).exists()]
        if unknown:
            ap.error(f"not in NEST's testsuite: {unknown}")
        files = list(args.only)
    with tempfile.TemporaryDirectory(prefix="nest_pytests_") as tmp:
        work = Path(tmp)
        shutil.copytree(root, work / "pytests", ignore=shutil.ignore_patterns("__pycache__"))
        (work / "conftest.py").write_text(SWITCH_CONFTEST)
        nest_out = run_pytest(work, files, "nest", args.per_test_timeout, args.timeout)
        our_out = run_pytest(work, files, "cortex_gpu.pynest", args.per_test_timeout, args.timeout)
    per_file: dict[str, dict] = {}
    for test in sorted(set(nest_out) | set(our_out)):
        module = test.split("::")[0]
        entry = per_file.setdefault(module, {"tests": {}})
        entry["tests"][test.split("::", 1)[1]] = {"nest": nest_out.get(test, "not run"),
                                                  "ours": our_out.get(test, "not run")}
    nest_passed = [t for t, o in nest_out.items() if o == "passed"]
    both = [t for t in nest_passed if our_out.get(t) == "passed"]
    # not collected on ours: parametrized over models the layer lacks, or in a file that failed to import
    collected = [t for t in nest_passed if t in our_out]
    import_errors = sorted(t.split("::")[0] for t, o in our_out.items() if o == "error" and t not in nest_out)
    chosen = "files given with --only" if args.only else (
        f"relevant files of {len(files) + len(left_out)} in {', '.join(FOLDERS)}")
    headline = (f"{len(both)} of the {len(collected)} tests NEST 3.10 passes here and cortex_gpu.pynest collects "
                f"pass on it ({len(nest_passed) - len(collected)} more NEST tests not collected: parametrized over "
                f"models the layer lacks or in {len(import_errors)} files that fail to import; {len(files)} {chosen})")
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "git": _git_commit(),
        "testsuite": str(root),
        "headline": headline,
        "totals": {"relevant_files": len(files), "files_left_out": len(left_out),
                   "tests_nest_passes": len(nest_passed), "tests_nest_passes_ours_collects": len(collected),
                   "tests_both_pass": len(both), "files_failing_to_import_on_ours": import_errors,
                   "ours": {k: sum(1 for t in nest_passed if our_out.get(t, "not run") == k)
                            for k in ("passed", "failed", "error", "skipped", "not run")}},
        "files": per_file,
        "left_out_for_models": left_out,
    }
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.json or REPO / "bench" / "results" / f"nest_pytests_{stamp}_{result['git']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for module, entry in per_file.items():
        tests = entry["tests"].values()
        n_nest = sum(1 for t in tests if t["nest"] == "passed")
        n_both = sum(1 for t in tests if t["nest"] == "passed" and t["ours"] == "passed")
        print(f"{module:70s} {n_both:4d} / {n_nest:4d}")
    print(headline)
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
