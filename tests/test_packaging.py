"""Tests that the package ships what it needs: CUDA sources as package data, the CLI entry point."""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_kernels_reachable_as_package_data():
    # The CUDA backend loads kernels from here, installed or editable.
    kernels = importlib.resources.files("cortex_gpu") / "kernels"
    names = {p.name for p in kernels.iterdir()}
    on_disk = {p.name for p in (ROOT / "kernels").iterdir() if p.suffix in (".cu", ".cuh")}
    assert on_disk and on_disk <= names
    assert "philox" in (kernels / "philox.cuh").read_text()


def test_pyproject_declares_entry_point_discovery_and_kernels():
    tomllib = pytest.importorskip("tomllib")    # Python >= 3.11
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert cfg["project"]["scripts"]["cortex-gpu"] == "cortex_gpu.cli:main"
    find = cfg["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["cortex_gpu*"] and find.get("namespaces", True)
    assert set(cfg["tool"]["setuptools"]["package-data"]["cortex_gpu.kernels"]) == {"*.cu", "*.cuh"}
    extras = cfg["project"]["optional-dependencies"]
    assert {"cuda", "cuda13", "mpi", "nvtx", "validation", "test"} <= set(extras)
    markers = " ".join(cfg["tool"]["pytest"]["ini_options"]["markers"])
    for marker in ("gpu:", "mpi:", "slow:", "nest:"):
        assert marker in markers
