"""A PyNEST-compatible interface: ``import cortex_gpu.pynest as nest`` runs NEST 3 scripts within its subset."""
from __future__ import annotations

import sys

from . import errors as NESTErrors
from . import math, random, raster_plot, voltage_trace
from .connect import Connect, GetConnections, SynapseCollection
from .kernel import (GetKernelStatus, NumProcesses, Rank, ResetKernel, SetKernelStatus, VerbosityLevel,
                     get, get_verbosity, install, message, set, set_verbosity)
from .models import CopyModel, GetDefaults, Models, SetDefaults
from .nodes import Create, GetStatus, NodeCollection, SetStatus
from .errors import KernelException as NESTError
from .random import Parameter
from .simulation import Cleanup, Prepare, Run, Simulate
from .checkpoint import RestoreCheckpoint, SaveCheckpoint

__all__ = [
    "ResetKernel", "SetKernelStatus", "GetKernelStatus", "set_verbosity", "get_verbosity",
    "VerbosityLevel", "Create", "NodeCollection", "GetStatus", "SetStatus", "Connect",
    "GetConnections", "SynapseCollection", "Simulate", "Prepare", "Run", "Cleanup", "Models",
    "GetDefaults", "SetDefaults", "CopyModel", "Parameter", "math", "random", "voltage_trace", "raster_plot",
    "Rank", "NumProcesses", "set", "get", "message", "NESTErrors", "NESTError",
    "SaveCheckpoint", "RestoreCheckpoint",   # cortex_gpu extensions (NEST has none): pynest/checkpoint.py
]

install(sys.modules[__name__])
