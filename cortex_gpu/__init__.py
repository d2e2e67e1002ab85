"""cortex_gpu: exact, reproducible simulation of spiking LIF networks on CPUs and GPUs."""
from __future__ import annotations

__version__ = "0.1.0"

from .engine import BuildReport, Simulation
from .network import Network

__all__ = ["Network", "Simulation", "BuildReport", "__version__"]
