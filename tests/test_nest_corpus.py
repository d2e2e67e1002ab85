"""The NEST example corpus runner (bench/nest_corpus.py): import rewriting, classification, real runs.

NEST runs only in the runner's subprocesses, never in this process (NEST and Numba's OpenMP
runtimes in one process can crash; see tests/validation/conftest.py).
"""
from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import nest_corpus  # noqa: E402

needs_nest = pytest.mark.skipif(importlib.util.find_spec("nest") is None, reason="nest-simulator is not installed")


def test_rewrite_imports_changes_only_nest_imports():
    src = "import nest\nimport nest.voltage_trace\nimport numpy as np\nfrom nest import raster_plot\nx = 'import nest'\n"
    out, changed = nest_corpus.rewrite_imports(src)
    assert out.splitlines() == ["import cortex_gpu.pynest as nest", "import cortex_gpu.pynest as nest",
                                "import numpy as np", "from cortex_gpu.pynest import raster_plot", "x = 'import nest'"]
    assert len(changed) == 3


# One network for the synthetic scripts; WEIGHT differs between the two modules in the 'differs' script.
_NETWORK = """
nest.ResetKernel()
n = nest.Create("iaf_psc_alpha", 2, {"I_e": [0.0, 376.0]})
sg = nest.Create("spike_generator", params={"spike_times": [5.0, 12.0, 30.0]})
vm = nest.Create("voltmeter")
sr = nest.Create("spike_recorder")
nest.Connect(sg, n, syn_spec={"weight": WEIGHT, "delay": 1.0})
nest.Connect(vm, n)
nest.Connect(n, sr)
nest.Simulate(100.0)
"""


def _script(tmp_path: Path, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return f"{name}.py"


@needs_nest
@pytest.mark.nest
def test_classes_of_synthetic_scripts(tmp_path):
    cases = {
        "same": "import nest\nWEIGHT = 700.0\n" + _NETWORK,
        "changed_weight": "import nest\nWEIGHT = 700.0 if nest.__name__ == 'nest' else 700.5\n" + _NETWORK,
        "unsupported": "import nest\nWEIGHT = 700.0\n" + _NETWORK + "vps = list(nest.GetLocalVPs())\n",
    }
    got = {name: nest_corpus.run_example(name, _script(tmp_path, name, body), tmp_path, 300.0)
           for name, body in cases.items()}
    assert got["same"]["class"] == "agrees", got["same"]["detail"]
    assert got["same"]["stochastic"] is False
    assert got["changed_weight"]["class"] == "differs", got["changed_weight"]["detail"]
    assert got["unsupported"]["class"] == "fails"
    assert "GetLocalVPs" in got["unsupported"]["detail"]
    missing = nest_corpus.run_example("absent", "absent.py", tmp_path, 10.0)
    assert missing["class"] == "not_shipped"
    assert nest_corpus.headline(list(got.values()) + [missing]) == "1/3 scripts run unchanged and agree"


@needs_nest
@pytest.mark.nest
def test_corpus_subset_runs_unchanged_and_agrees(tmp_path, capsys):
    """Deterministic scripts of the corpus that agree with NEST keep agreeing (spikes and V_m identical)."""
    out = tmp_path / "corpus.json"
    nest_corpus.main(["--only", "one_neuron", "twoneurons", "testiaf", "--json", str(out), "--timeout", "300"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "3/3 scripts run unchanged and agree"
    import json
    records = json.loads(out.read_text())["corpus"]
    assert {r["name"]: r["class"] for r in records} == dict.fromkeys(["one_neuron", "twoneurons", "testiaf"],
                                                                      "agrees")
    assert all(r["rewritten_imports"] for r in records)
