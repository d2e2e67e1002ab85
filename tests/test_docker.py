"""docker/: the image installs as the README does and runs the GPU benchmark (static checks:
Docker itself is not needed, and not run, by the test suite)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "docker" / "Dockerfile").read_text()


def test_cuda_flavours_and_extras():
    assert re.search(r"^ARG CUDA=13$", TEXT, flags=re.M)
    assert re.search(r"^FROM nvidia/cuda:12\.[\d.]+-devel-ubuntu24\.04 AS base-12$", TEXT, flags=re.M)
    assert re.search(r"^FROM nvidia/cuda:13\.[\d.]+-devel-ubuntu24\.04 AS base-13$", TEXT, flags=re.M)
    assert "FROM base-${CUDA}" in TEXT and "12) extra=cuda ;;" in TEXT and "13) extra=cuda13 ;;" in TEXT
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("cupy-cuda12x") for d in extras["cuda"])
    assert any(d.startswith("cupy-cuda13x") for d in extras["cuda13"])
    assert all(any(d.startswith("nvidia-ml-py") for d in extras[k]) for k in ("cuda", "cuda13"))


def test_installs_with_setup_script_and_runs_gpu_bench():
    assert 'EXTRAS="test,$extra" ./scripts/setup.sh' in TEXT
    cmd = re.search(r'^CMD \["python", "([^"]+)", "--out", "/results"\]$', TEXT, flags=re.M)
    assert cmd and (ROOT / cmd.group(1)).is_file()
    assert "VOLUME /results" in TEXT
