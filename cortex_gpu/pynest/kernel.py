"""The PyNEST kernel singleton: settings declared once, the network under construction, its run.

This is the one piece of global state of :mod:`cortex_gpu.pynest` (STYLE.md,
habit 8). Every setting is a :class:`KernelAttribute` declared once on
:class:`Kernel` with its type, documentation and default, as NEST declares
its own; ``nest.resolution = 0.2``, ``nest.SetKernelStatus({...})`` and
``nest.GetKernelStatus()`` all go through these declarations.
:func:`ResetKernel` restores every default and forgets every node,
connection and simulation; node collections from before it become invalid.
"""
from __future__ import annotations

import enum
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..network import SYNAPSE_MODELS, Network, Population

__all__ = [
    "KernelAttribute", "Kernel", "KERNEL", "Block", "VerbosityLevel", "NEST_DEFAULT_SEED",
    "ResetKernel", "SetKernelStatus", "GetKernelStatus", "set_verbosity", "get_verbosity",
    "PynestModule", "install", "HPC_TWINS",
]

#: NEST 3's default ``rng_seed``.
NEST_DEFAULT_SEED = 143202461

#: NEST kernel settings that this layer does not provide (errors name them).
_NEST_ONLY_SETTINGS = frozenset("""
T_max T_min adaptive_target_buffers buffer_size_spike_data buffer_size_target_data build_info
connection_rules cycle_time_log dict_miss_is_error eprop_learning_window
eprop_reset_neurons_on_update eprop_update_interval growth_curves growth_factor_buffer_target_data
keep_source_table local_spike_counter max_buffer_size_target_data max_delay max_num_syn_models
max_update_time memory_size min_delay min_update_time ms_per_tic num_processes off_grid_spiking
recording_backends recv_buffer_size_secondary_events rng_type rng_types
send_buffer_size_secondary_events spike_buffer_grow_extra spike_buffer_resize_log
spike_buffer_shrink_limit spike_buffer_shrink_spare stimulation_backends
structural_plasticity_synapses structural_plasticity_update_interval tics_per_ms tics_per_step
to_do update_time_limit use_compressed_spikes use_wfr wfr_comm_interval wfr_interpolation_order
wfr_max_iterations wfr_tol""".split())

#: NEST's built-in ``_hpc`` twins of synapse models (same dynamics, a leaner connection
#: store in NEST), which NEST's hpc_benchmark.py uses; here they are copies of their base.
HPC_TWINS = {"static_synapse_hpc": "static_synapse", "stdp_pl_synapse_hom_hpc": "stdp_pl_synapse_hom"}

#: Public NEST functions and submodules this layer does not provide.
UNSUPPORTED_API = frozenset("""
Compartments ConnectionRules CreateMask CreateParameter DisableStructuralPlasticity Disconnect
Displacement Distance DumpLayerConnections DumpLayerNodes EnableStructuralPlasticity
FindCenterElement FindNearestElement GetLocalNodeCollection GetLocalVPs GetNodes GetPosition
GetSourceNodes GetSourcePositions GetTargetNodes GetTargetPositions Install Mask
PlotLayer PlotProbabilityParameter PlotSources PlotTargets PrintNodes Receptors
SelectNodesByMask SetAcceptableLatency SetMaxBuffered SonataNetwork SyncProcesses
TripartiteConnect help logic serialize_data server set_communicator spatial
spatial_distributions to_json visualization""".split())


class VerbosityLevel(enum.IntEnum):
    """NEST's verbosity levels; accepted and stored, the layer prints nothing anyway."""

    ALL = 0
    DEBUG = 5
    STATUS = 7
    INFO = 10
    PROGRESS = 15
    DEPRECATED = 18
    WARNING = 20
    ERROR = 30
    FATAL = 40
    QUIET = 100


def _verbosity(level: Any) -> VerbosityLevel:
    """A :class:`VerbosityLevel` from a level, an int or a NEST 2 name such as ``"M_ERROR"``."""
    if isinstance(level, str):
        name = level.upper().removeprefix("M_")
        if name not in VerbosityLevel.__members__:
            raise ValueError(f"unknown verbosity level {level!r} (known: "
                             f"{', '.join('M_' + k for k in VerbosityLevel.__members__)})")
        return VerbosityLevel[name]
    try:
        return VerbosityLevel(int(level))
    except ValueError:
        raise ValueError(f"unknown verbosity level {level!r}") from None


class KernelAttribute:
    """A kernel setting declared once: type, documentation, default, read-only flag.

    A read-only attribute is computed by the kernel's ``_get_<name>`` method.
    A writable one is stored after the kernel's ``_set_<name>`` method (if
    any) has checked and normalised the value.
    """

    def __init__(self, type_name: str, doc: str, default: Any = None, readonly: bool = False):
        self.type_name = type_name
        self.__doc__ = doc
        self.default = default
        self.readonly = readonly
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, kernel: "Kernel | None", owner: type | None = None) -> Any:
        if kernel is None:
            return self
        getter = getattr(kernel, f"_get_{self.name}", None)
        if getter is not None:
            return getter()
        return kernel._values.get(self.name, self.default)

    def __set__(self, kernel: "Kernel", value: Any) -> None:
        if self.readonly:
            raise ValueError(f"kernel attribute '{self.name}' is read-only")
        setter: Callable[[Any], Any] | None = getattr(kernel, f"_set_{self.name}", None)
        kernel._values[self.name] = setter(value) if setter is not None else value


@dataclass
class Block:
    """The nodes of one ``Create`` call: ``n`` consecutive NEST node ids from ``first``.

    ``role`` is one of ``neuron``, ``spike_generator``, ``generator``
    (poisson/dc), ``spike_recorder``, ``multimeter``. ``pop`` is the core
    population of neurons and spike generators; ``items`` holds one device
    state object per node for the other roles (see :mod:`.devices`).
    """

    model: str
    role: str
    first: int
    n: int
    pop: Population | None = None
    items: list = field(default_factory=list)


class Kernel:
    """Settings, the core :class:`~cortex_gpu.network.Network` under construction and its simulation."""

    resolution = KernelAttribute("float", "The resolution of the simulation (in ms)", default=0.1)
    rng_seed = KernelAttribute("int", "Seed of every random draw, in [1, 2**32 - 1]", default=NEST_DEFAULT_SEED)
    local_num_threads = KernelAttribute("int", "Number of CPU threads of the engine", default=1)
    total_num_virtual_procs = KernelAttribute(
        "int", "Total number of virtual processes: threads per rank times MPI processes", default=1)
    num_processes = KernelAttribute("int", "Number of MPI processes (1 without mpiexec)", readonly=True)
    weight_dtype = KernelAttribute(
        "str", "Storage of synaptic weights: 'float32' (6 bytes per synapse, weights rounded to "
        "float32) or 'float64' (exact double weights, as NEST stores them; use it to compare with NEST)",
        default="float32")
    backend = KernelAttribute("str", "Engine backend: 'cpu' (Numba), 'cuda' or 'auto'", default="cpu")
    print_time = KernelAttribute("bool", "Whether Simulate prints its progress", default=False)
    data_path = KernelAttribute("str", "Directory where recorders with record_to 'ascii' write their files "
                                "('' : the current directory)", default="")
    data_prefix = KernelAttribute("str", "Prefix of the names of the files recorders write", default="")
    overwrite_files = KernelAttribute("bool", "Whether recorders may overwrite existing files "
                                      "(otherwise an existing file stops Simulate)", default=False)
    verbosity = KernelAttribute("VerbosityLevel", "Verbosity of messages (stored only)",
                                default=VerbosityLevel.INFO)
    biological_time = KernelAttribute("float", "The current simulation time (in ms)", readonly=True)
    network_size = KernelAttribute("int", "The number of nodes in the network", readonly=True)
    num_connections = KernelAttribute("int", "The number of connections in the network", readonly=True)
    node_models = KernelAttribute("list", "Names of the node models", readonly=True)
    synapse_models = KernelAttribute("list", "Names of the synapse models", readonly=True)
    kernel_status = KernelAttribute("dict", "Every kernel setting", readonly=True)

    def __init__(self) -> None:
        self.generation = 0
        self.reset()

    # ------------------------------------------------------------- settings
    @classmethod
    def settings(cls) -> dict[str, KernelAttribute]:
        """Every declared setting, by name."""
        return {k: v for k, v in vars(cls).items() if isinstance(v, KernelAttribute)}

    def _before_change(self, what: str) -> None:
        if self.sim is not None:
            raise NotImplementedError(f"changing {what} after Simulate is not supported yet; call ResetKernel")
        self.probe = None

    def _set_resolution(self, value: Any) -> float:
        self._before_change("the resolution")
        if self.blocks:
            raise ValueError("nodes have already been created: the resolution cannot be changed "
                             "(call ResetKernel first)")
        h = float(value)
        if not np.isfinite(h) or h <= 0:
            raise ValueError(f"resolution must be a positive number of ms, got {value}")
        if abs(h * 1000.0 - round(h * 1000.0)) > 1e-9:
            # NEST's clock counts tics of 1 us; a resolution must be whole tics.
            raise ValueError(f"resolution {h} ms must be a multiple of the tic, 0.001 ms")
        self._net = None
        return h

    def _set_rng_seed(self, value: Any) -> int:
        self._before_change("rng_seed")
        if int(value) != value or not 1 <= int(value) <= 2 ** 32 - 1:
            raise ValueError(f"rng_seed must be an integer in [1, 2**32 - 1], got {value}")
        return int(value)

    def _set_local_num_threads(self, value: Any) -> int:
        self._before_change("local_num_threads")
        if int(value) != value or int(value) < 1:
            raise ValueError(f"local_num_threads must be a positive integer, got {value}")
        return int(value)

    def _get_total_num_virtual_procs(self) -> int:
        return self.local_num_threads * self.comm.size

    def _set_total_num_virtual_procs(self, value: Any) -> int:
        if int(value) != value or int(value) < 1 or int(value) % self.comm.size:
            raise ValueError(f"total_num_virtual_procs must be a positive multiple of the {self.comm.size} "
                             f"MPI process(es), got {value}")
        self.local_num_threads = int(value) // self.comm.size
        return self.local_num_threads * self.comm.size

    def _get_num_processes(self) -> int:
        return self.comm.size

    @property
    def comm(self):
        """This process's communicator: MPI under mpiexec/srun, else a single rank."""
        if getattr(self, "_comm", None) is None:
            from ..comm import world
            self._comm = world()
        return self._comm

    def _set_weight_dtype(self, value: Any) -> str:
        self._before_change("weight_dtype")
        if value not in ("float32", "float64"):
            raise ValueError(f"weight_dtype must be 'float32' or 'float64', got {value!r}")
        return str(value)

    def _set_backend(self, value: Any) -> str:
        self._before_change("backend")
        return str(value)

    def _set_print_time(self, value: Any) -> bool:
        return bool(value)

    def _set_overwrite_files(self, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"overwrite_files must be a bool, got {type(value).__name__}")
        return bool(value)

    def _set_data_path(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"data_path must be a string, got {type(value).__name__}")
        if value and not os.path.isdir(value):
            # NEST logs this error and keeps the old data_path rather than raising
            print(f"[ERROR] Variable data_path not set: Directory '{value}' does not exist.", file=sys.stderr)
            return self.data_path
        return value

    def _set_data_prefix(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"data_prefix must be a string, got {type(value).__name__}")
        if "/" in value:
            print("[ERROR] Data prefix must not contain path elements.", file=sys.stderr)   # NEST keeps the old one
            return self.data_prefix
        return value

    def _set_verbosity(self, value: Any) -> VerbosityLevel:
        return _verbosity(value)

    def _get_biological_time(self) -> float:
        return self.sim.t_ms if self.sim is not None else 0.0

    def _get_network_size(self) -> int:
        return self.n_nodes

    def _get_num_connections(self) -> int:
        from .connect import GetConnections
        return len(GetConnections())

    def _get_node_models(self) -> list[str]:
        from .models import node_model_names
        return node_model_names()

    def _get_synapse_models(self) -> list[str]:
        return sorted(self.synapse_registry)

    def _get_kernel_status(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in sorted(self.settings()) if k != "kernel_status"}

    def status(self, keys: str | list[str] | None = None) -> Any:
        """``GetKernelStatus``: everything, one value, or a tuple of values."""
        if keys is None:
            return self.kernel_status
        if isinstance(keys, str):
            return getattr(self, self._check_key(keys))
        return tuple(getattr(self, self._check_key(k)) for k in keys)

    def set_status(self, params: dict[str, Any]) -> None:
        """``SetKernelStatus``: every key is checked before any is set."""
        for k in params:
            attr = self.settings()[self._check_key(k)]
            if attr.readonly:
                raise ValueError(f"kernel attribute '{k}' is read-only")
        for k, v in params.items():
            setattr(self, k, v)

    def _check_key(self, key: str) -> str:
        if key in self.settings():
            return key
        if key in _NEST_ONLY_SETTINGS:
            raise NotImplementedError(f"kernel setting '{key}' is not supported by cortex_gpu.pynest")
        raise ValueError(f"'{key}' is not a valid kernel parameter (supported: "
                         f"{', '.join(sorted(self.settings()))})")

    # ----------------------------------------------------------- the network
    def reset(self) -> None:
        """Forget every node, connection, simulation and setting (``ResetKernel``)."""
        self._values: dict[str, Any] = {}
        self._net: Network | None = None
        self.blocks: list[Block] = []
        self.n_nodes = 0
        self.nest_of_gid = np.zeros(0, np.int64)     # NEST node id of each core gid
        self.gid_of_nest = np.full(1, -1, np.int64)  # core gid of each NEST id (-1: a device)
        self._block_starts = np.zeros(0, np.int64)
        self.device_conns: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.model_defaults: dict[str, dict[str, Any]] = {}
        #: synapse model name -> (built-in model, common parameters); the core network
        #: shares this dict, so copies made before the network exists are kept
        self.synapse_registry: dict[str, tuple[str, dict[str, float]]] = {
            k: (k, dict(v)) for k, v in SYNAPSE_MODELS.items()}
        self.synapse_registry.update({k: (b, dict(SYNAPSE_MODELS[b])) for k, b in HPC_TWINS.items()})
        #: copied node model name -> the built-in neuron model it stands for
        self.node_copies: dict[str, str] = {}
        self.sim = None      # the Simulation, from the first Simulate on
        self.probe = None    # a built, not yet run Simulation (GetConnections before Simulate)
        # Generator changes made after Simulate, applied when they reach the targets:
        # (step at which targets first see them, core generator id, params).
        self.pending: list[tuple[int, int, dict[str, Any]]] = []
        self.generation += 1

    @property
    def net(self) -> Network:
        """The core network description, created at the current resolution on first use."""
        if self._net is None:
            self._net = Network(self.resolution)
            self._net.synapse_models = self.synapse_registry
        return self._net

    def changing_network(self, what: str) -> None:
        """Call before every change of the network: refuses after Simulate, drops a probe build."""
        if self.sim is not None:
            raise NotImplementedError(f"{what}: changing the network after Simulate is not supported "
                                      "yet; call ResetKernel")
        self.probe = None

    def add_block(self, block: Block) -> Block:
        """Register a Create call's nodes; ``block.first`` is assigned here."""
        block.first = self.n_nodes + 1
        self.blocks.append(block)
        self.n_nodes += block.n
        self._block_starts = np.array([b.first for b in self.blocks], np.int64)
        gid_of_nest = np.full(block.n, -1, np.int64)
        if block.pop is not None:
            gid_of_nest[:] = block.pop.gids
            self.nest_of_gid = np.concatenate([self.nest_of_gid, block.first + np.arange(block.n)])
        self.gid_of_nest = np.concatenate([self.gid_of_nest, gid_of_nest])
        return block

    def block_index(self, ids: np.ndarray) -> np.ndarray:
        """Index into ``blocks`` of every NEST node id."""
        return np.searchsorted(self._block_starts, ids, side="right") - 1

    def check_ids(self, ids: np.ndarray) -> None:
        if ids.size and (ids.min() < 1 or ids.max() > self.n_nodes):
            bad = ids[(ids < 1) | (ids > self.n_nodes)][0]
            raise ValueError(f"node with id {bad} does not exist (the network has {self.n_nodes} nodes)")


#: The kernel singleton.
KERNEL = Kernel()


def ResetKernel() -> None:
    """Forget every node, connection and simulation and restore every kernel default."""
    KERNEL.reset()


def SetKernelStatus(params: dict[str, Any]) -> None:
    """Set kernel attributes from a dict, e.g. ``{'resolution': 0.1, 'rng_seed': 5}``."""
    KERNEL.set_status(params)


def GetKernelStatus(keys: str | list[str] | None = None) -> Any:
    """Every kernel attribute (dict), one value (``keys`` a string) or a tuple of values."""
    return KERNEL.status(keys)


def set_verbosity(level: Any) -> None:
    """Accept NEST's verbosity (``"M_ERROR"``, a :class:`VerbosityLevel` or an int); nothing prints anyway."""
    KERNEL.verbosity = level


def get_verbosity() -> VerbosityLevel:
    """The verbosity last set."""
    return KERNEL.verbosity


class PynestModule(types.ModuleType):
    """Module class of ``cortex_gpu.pynest``: kernel attributes read and written as module attributes.

    ``nest.resolution = 0.2`` sets the kernel setting; a NEST function this
    layer does not provide raises :class:`NotImplementedError` naming it.
    """

    def __getattr__(self, name: str) -> Any:
        if name in Kernel.settings():
            return getattr(KERNEL, name)
        if name in UNSUPPORTED_API or name in _NEST_ONLY_SETTINGS:
            raise NotImplementedError(f"nest.{name} is not supported by cortex_gpu.pynest")
        raise AttributeError(f"module 'cortex_gpu.pynest' has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Kernel.settings():
            setattr(KERNEL, name, value)
        elif name in _NEST_ONLY_SETTINGS:
            raise NotImplementedError(f"kernel setting '{name}' is not supported by cortex_gpu.pynest")
        else:
            super().__setattr__(name, value)


def Rank() -> int:
    """This process's MPI rank (0 without mpiexec), as NEST's ``Rank``."""
    return KERNEL.comm.rank


def NumProcesses() -> int:
    """Number of MPI processes (1 without mpiexec), as NEST's ``NumProcesses``."""
    return KERNEL.comm.size


def install(module: types.ModuleType) -> None:
    """Give ``module`` (the package) kernel-attribute access, as NEST's ``nest`` module has."""
    module.__class__ = PynestModule
    from ..comm import _abort_on_uncaught, launched_by_mpi
    if launched_by_mpi():   # before the kernel's communicator exists: a script may fail earlier
        sys.excepthook = _abort_on_uncaught
