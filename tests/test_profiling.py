"""NVTX ranges (cortex_gpu.profiling): a shared no-op unless CORTEX_GPU_NVTX=1 and nvtx imports."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cortex_gpu import profiling

ROOT = Path(__file__).resolve().parents[1]


def test_off_by_default_is_one_shared_no_op():
    if os.environ.get(profiling.ENV_VAR) == "1":
        pytest.skip(f"{profiling.ENV_VAR}=1 in this environment")
    assert not profiling.enabled()
    a, b = profiling.range("build"), profiling.range("deliver")
    assert a is b                      # nothing allocated per range
    with a:
        pass
    profiling.push("deliver")
    profiling.swap("update")
    profiling.pop()


def _run(env_value: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{profiling.ENV_VAR: env_value})
    code = ("from cortex_gpu import profiling\n"
            "with profiling.range('build'):\n    pass\n"
            "profiling.push('deliver'); profiling.swap('exchange'); profiling.pop()\n"
            "print(profiling.enabled(), type(profiling.range('x')).__name__)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_enabled_with_env_var_and_nvtx():
    pytest.importorskip("nvtx")
    r = _run("1")
    assert r.returncode == 0, r.stderr
    enabled, kind = r.stdout.split()
    assert enabled == "True" and kind != "nullcontext"
    r = _run("0")
    assert r.stdout.split() == ["False", "nullcontext"]
