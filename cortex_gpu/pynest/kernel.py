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

import contextlib
import datetime
import enum
import functools
import inspect
import os
import sys
import time
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..network import RULES, SYNAPSE_MODELS, Network, Population, delay_to_steps
from . import errors as E

__all__ = [
    "KernelAttribute", "Kernel", "KERNEL", "Block", "VerbosityLevel", "NEST_DEFAULT_SEED",
    "ResetKernel", "SetKernelStatus", "GetKernelStatus", "set_verbosity", "get_verbosity", "message",
    "PynestModule", "install", "HPC_TWINS",
]

#: NEST 3's default ``rng_seed``.
NEST_DEFAULT_SEED = 143202461

#: NEST's random generator names (``rng_types``); accepted for ``rng_type``, the draws here come
#: from this layer's own generator whichever is named.
RNG_TYPES = ("Philox_32", "Philox_64", "Threefry_32", "Threefry_64", "mt19937", "mt19937_64")
#: NEST's largest time in tics (its ``tic_t`` range); ``T_max`` is its whole steps in ms.
_MAX_TICS = 2 ** 60 - 1
#: Settings of this layer that NEST does not have (GetKernelStatus reports them besides NEST's).
CORTEX_SETTINGS = frozenset({"backend", "weight_dtype"})

#: NEST's built-in ``_hpc`` twins of synapse models (same dynamics, a leaner connection
#: store in NEST), which NEST's hpc_benchmark.py uses; here they are copies of their base.
HPC_TWINS = {"static_synapse_hpc": "static_synapse", "stdp_pl_synapse_hom_hpc": "stdp_pl_synapse_hom",
             "stdp_synapse_hpc": "stdp_synapse", "stdp_synapse_hom_hpc": "stdp_synapse_hom"}

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
    """NEST's verbosity levels; they filter :func:`message`, the layer prints nothing else."""

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

    A read-only attribute is computed by the kernel's ``_get_<name>`` method
    (or is its default). A writable one is cast to its type as NEST casts it
    (a wrong type is :class:`~.errors.TypeMismatch`), then stored after the
    kernel's ``_set_<name>`` method (if any) has checked and normalised it.
    ``attribute=False`` marks a key that NEST reports in ``GetKernelStatus``
    but neither sets nor offers as ``nest.<name>`` (e.g. ``prepared``);
    ``in_status=False`` one that NEST offers as ``nest.<name>`` but leaves out
    of ``GetKernelStatus()`` (``kernel_status``, ``cycle_time_log``).
    """

    def __init__(self, type_name: str, doc: str, default: Any = None, readonly: bool = False,
                 attribute: bool = True, in_status: bool = True):
        self.type_name = type_name
        self.__doc__ = doc
        self.default = default
        self.readonly = readonly or not attribute
        self.attribute = attribute
        self.in_status = in_status
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, kernel: "Kernel | None", owner: type | None = None) -> Any:
        if kernel is None:
            return self
        getter = getattr(kernel, f"_get_{self.name}", None)
        if getter is not None:
            return getter()
        value = kernel._values.get(self.name, self.default)
        return dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value

    def __set__(self, kernel: "Kernel", value: Any) -> None:
        if self.readonly:
            raise AttributeError(f"`{self.name}` is a read only kernel attribute.")
        value = _cast(self.name, self.type_name, value)
        setter: Callable[[Any], Any] | None = getattr(kernel, f"_set_{self.name}", None)
        kernel._values[self.name] = setter(value) if setter is not None else value


#: NEST's C++ names of Python types, for its TypeMismatch messages.
_CXX_TYPES = {bool: "bool", int: "long", float: "double", str: "std::string"}


def _cast(name: str, type_name: str, value: Any) -> Any:
    """``value`` as a ``bool``, ``int``, ``float`` or ``str`` setting, as NEST casts it (else unchanged)."""
    if type_name not in ("bool", "int", "float", "str"):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    ok = {"bool": isinstance(value, bool),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool),
          "str": isinstance(value, str)}[type_name]
    if not ok:
        raise E.TypeMismatch(f"Expected datatype: Failed to cast '{name}' from "
                             f"{_CXX_TYPES.get(type(value), type(value).__name__)} to type "
                             f"{_CXX_TYPES[{'bool': bool, 'int': int, 'float': float, 'str': str}[type_name]]}")
    return float(value) if type_name == "float" else value


def _vm_size_kb() -> int:
    """This process's virtual memory size in kB (``VmSize``, what NEST's ``memory_size`` reads), -1 if unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


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


def build_info() -> dict[str, Any]:
    """NEST 3.10's ``build_info`` keys with this package's values.

    ``version`` is cortex_gpu's version; ``have_*`` say what this package has
    (MPI through mpi4py when importable, threads through Numba; no GSL, HDF5,
    MUSIC, SIONlib or libneurosim); paths point at the installed package;
    ``test_exitcodes`` are NEST's, since scripts compare against them.
    """
    import importlib.util
    import platform
    from .. import __version__
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    machine = platform.machine()
    return {
        "built": "", "datadir": package_dir, "docdir": package_dir, "exitcode": 0,
        "have_boost": False, "have_gsl": False, "have_hdf5": False, "have_libneurosim": False,
        "have_mpi": importlib.util.find_spec("mpi4py") is not None, "have_music": False,
        "have_sionlib": False, "have_threads": True,
        "host": f"{machine}-{sys.platform}", "hostcpu": machine, "hostos": sys.platform, "hostvendor": "",
        "ndebug": True, "prefix": package_dir,
        "test_exitcodes": {"abort": 134, "exception": 125, "fatal": 127, "scripterror": 126, "segfault": 139,
                           "skipped": 200, "skipped_have_mpi": 202, "skipped_no_gsl": 204, "skipped_no_mpi": 201,
                           "skipped_no_music": 205, "skipped_no_threading": 203, "success": 0,
                           "unknownerror": 10, "userabort": 15},
        "threads_model": "numba", "version": __version__,
    }


class Kernel:
    """Settings, the core :class:`~cortex_gpu.network.Network` under construction and its simulation.

    Every key of NEST 3.10's ``GetKernelStatus()`` is declared here, with
    NEST's type and default. Keys that concern only NEST's internals (MPI
    buffers, waveform relaxation, e-prop, spike compression, ...) are stored
    and reported as set; read-only ones report what NEST would report for
    this network where that is meaningful here (``min_delay``, tics,
    ``local_spike_counter``, ``memory_size``, timers). Settings that would
    change the dynamics in a way this layer cannot honour raise
    :class:`~.errors.NotImplemented` naming them, and are accepted at NEST's
    default.
    """

    # ---- time and its grid
    resolution = KernelAttribute("float", "The resolution of the simulation (in ms)", default=0.1)
    biological_time = KernelAttribute("float", "The current simulation time (in ms); may only be set to 0.0")
    tics_per_ms = KernelAttribute("int", "The number of tics per millisecond (only NEST's default, 1000, here; "
                                  "a change must come with the resolution)", default=1000.0)
    ms_per_tic = KernelAttribute("float", "The number of milliseconds per tic", readonly=True)
    tics_per_step = KernelAttribute("int", "The number of tics per simulation time step", readonly=True)
    T_max = KernelAttribute("float", "The largest representable time value (ms)", readonly=True)
    T_min = KernelAttribute("float", "The smallest representable time value (ms)", readonly=True)
    min_delay = KernelAttribute("float", "The minimum delay in the network (ms): the smallest connection "
                                "delay, or the value set (with max_delay) before any connection")
    max_delay = KernelAttribute("float", "The maximum delay in the network (ms), as min_delay")
    to_do = KernelAttribute("int", "The number of steps yet to be simulated (0 between runs)", readonly=True,
                            default=0)
    # ---- random numbers
    rng_seed = KernelAttribute("int", "Seed of every random draw, in [1, 2**32 - 1]", default=NEST_DEFAULT_SEED)
    rng_type = KernelAttribute("str", "Name of NEST's random generator type (accepted and reported; the draws "
                               "come from this layer's generator)", default="mt19937_64")
    rng_types = KernelAttribute("list", "NEST's random generator types", readonly=True, default=list(RNG_TYPES))
    # ---- parallelism
    local_num_threads = KernelAttribute("int", "Number of CPU threads of the engine", default=1)
    total_num_virtual_procs = KernelAttribute(
        "int", "Total number of virtual processes: threads per rank times MPI processes", default=1)
    num_processes = KernelAttribute("int", "Number of MPI processes (1 without mpiexec)", readonly=True)
    mpi_rank = KernelAttribute("int", "This process's MPI rank", attribute=False)
    off_grid_spiking = KernelAttribute("bool", "Whether precise (off-grid) spike times are communicated: "
                                       "never here, spikes are on the step grid", readonly=True, default=False)
    # ---- NEST's communication buffers: stored, they only size NEST's MPI buffers
    adaptive_target_buffers = KernelAttribute("bool", "NEST's MPI buffer setting (stored only)", default=True)
    buffer_size_spike_data = KernelAttribute("int", "NEST's MPI buffer setting (stored only)", default=2)
    buffer_size_target_data = KernelAttribute("int", "NEST's MPI buffer setting (stored only)", default=2)
    growth_factor_buffer_spike_data = KernelAttribute("float", "NEST's MPI buffer setting", default=1.5,
                                                      attribute=False)
    growth_factor_buffer_target_data = KernelAttribute("float", "NEST's MPI buffer setting (stored only)",
                                                       default=1.5)
    max_buffer_size_target_data = KernelAttribute("int", "NEST's MPI buffer setting (stored only)",
                                                  default=16777216)
    spike_buffer_grow_extra = KernelAttribute("float", "NEST's MPI buffer setting (stored only)", default=0.5)
    spike_buffer_shrink_limit = KernelAttribute("float", "NEST's MPI buffer setting (stored only)", default=0.2)
    spike_buffer_shrink_spare = KernelAttribute("float", "NEST's MPI buffer setting (stored only)", default=0.1)
    spike_buffer_resize_log = KernelAttribute("dict", "NEST's log of spike buffer resizes (none here)",
                                              readonly=True)
    send_buffer_size_secondary_events = KernelAttribute(
        "int", "Bytes of NEST's MPI buffers for secondary events (none here)", readonly=True, default=0)
    recv_buffer_size_secondary_events = KernelAttribute(
        "int", "Bytes of NEST's MPI buffers for secondary events (none here)", readonly=True, default=0)
    use_compressed_spikes = KernelAttribute("bool", "NEST's spike compression (stored only)", default=True)
    keep_source_table = KernelAttribute("bool", "Whether NEST keeps its source table (stored only)", default=True)
    # ---- waveform relaxation (gap junctions, which this layer does not provide): stored
    use_wfr = KernelAttribute("bool", "Whether gap junctions use waveform relaxation (stored only: this "
                              "layer has no gap junctions)", default=True)
    wfr_comm_interval = KernelAttribute("float", "Waveform relaxation setting (stored only)", default=1.0)
    wfr_tol = KernelAttribute("float", "Waveform relaxation setting (stored only)", default=0.0001)
    wfr_max_iterations = KernelAttribute("int", "Waveform relaxation setting (stored only)", default=15)
    wfr_interpolation_order = KernelAttribute("int", "Waveform relaxation setting (stored only)", default=3)
    # ---- structural plasticity and e-prop, which this layer does not provide
    structural_plasticity_synapses = KernelAttribute(
        "dict", "Synapses of structural plasticity (only {} here: structural plasticity is not provided)",
        default={})
    structural_plasticity_update_interval = KernelAttribute(
        "float", "Structural plasticity update interval in ms (stored only)", default=10000.0)
    growth_curves = KernelAttribute("list", "Structural plasticity growth curves (none here)", readonly=True,
                                    default=[])
    eprop_update_interval = KernelAttribute("float", "e-prop setting (stored only)", default=1000.0)
    eprop_learning_window = KernelAttribute("float", "e-prop setting (stored only)", default=1000.0)
    eprop_reset_neurons_on_update = KernelAttribute("bool", "e-prop setting (stored only)", default=True)
    # ---- the network and its models
    network_size = KernelAttribute("int", "The number of nodes in the network", readonly=True)
    num_connections = KernelAttribute("int", "The number of connections in the network", readonly=True)
    node_models = KernelAttribute("list", "Names of the node models", readonly=True)
    synapse_models = KernelAttribute("list", "Names of the synapse models", readonly=True)
    connection_rules = KernelAttribute("list", "Names of the connection rules", readonly=True)
    max_num_syn_models = KernelAttribute("int", "Largest number of synapse models (NEST's)", readonly=True,
                                         default=511)
    recording_backends = KernelAttribute("list", "Recording backends", readonly=True)
    stimulation_backends = KernelAttribute("list", "Stimulation backends (none, as NEST's)", readonly=True,
                                           default=[])
    modules = KernelAttribute("list", "Modules loaded with Install (none)", attribute=False, default=[])
    dict_miss_is_error = KernelAttribute("bool", "Whether unknown keys in SetKernelStatus and SetDefaults are "
                                         "errors (else warnings)", default=True)
    # ---- running and measuring
    prepared = KernelAttribute("bool", "Whether Prepare was called without Cleanup", attribute=False)
    local_spike_counter = KernelAttribute("int", "Spikes of this rank's neurons in the last Run", readonly=True,
                                          default=0)
    update_time_limit = KernelAttribute("float", "Wall-clock limit of one update step (s): only inf here",
                                        default=float("inf"))
    min_update_time = KernelAttribute("float", "Shortest wall-clock time of an update step so far (s), as the "
                                      "mean over one Run call", readonly=True)
    max_update_time = KernelAttribute("float", "Longest wall-clock time of an update step so far (s), as the "
                                      "mean over one Run call", readonly=True)
    cycle_time_log = KernelAttribute("dict", "NEST's per-cycle timing log (only in NEST's timing builds)",
                                     readonly=True, in_status=False)
    memory_size = KernelAttribute("int", "Memory size of this process in kB (VmSize; -1 if unavailable)",
                                  readonly=True)
    build_info = KernelAttribute("dict", "Information about the build: NEST's keys, this package's values",
                                 readonly=True)
    time_simulate = KernelAttribute("float", "Wall-clock seconds spent in Simulate/Run", attribute=False,
                                    default=0.0)
    time_simulate_cpu = KernelAttribute("float", "CPU seconds spent in Simulate/Run", attribute=False, default=0.0)
    time_construction_create = KernelAttribute("float", "Wall-clock seconds spent in Create", attribute=False,
                                               default=0.0)
    time_construction_create_cpu = KernelAttribute("float", "CPU seconds spent in Create", attribute=False,
                                                   default=0.0)
    time_construction_connect = KernelAttribute("float", "Wall-clock seconds spent in Connect and in building the "
                                                "network at the first Prepare", attribute=False, default=0.0)
    time_construction_connect_cpu = KernelAttribute("float", "CPU seconds spent in Connect and in building the "
                                                    "network at the first Prepare", attribute=False, default=0.0)
    time_communicate_prepare = KernelAttribute("ndarray", "Seconds of MPI communication in Prepare (none: "
                                               "this layer exchanges nothing in Prepare)", attribute=False)
    time_communicate_prepare_cpu = KernelAttribute("ndarray", "CPU seconds of MPI communication in Prepare",
                                                   attribute=False)
    # ---- this layer's own settings (CORTEX_SETTINGS)
    weight_dtype = KernelAttribute(
        "str", "Storage of synaptic weights: 'float32' (6 bytes per synapse, weights rounded to "
        "float32) or 'float64' (exact double weights, as NEST stores them; use it to compare with NEST)",
        default="float32")
    backend = KernelAttribute("str", "Engine backend: 'cpu' (Numba), 'cuda' or 'auto'", default="cpu")
    # ---- output
    print_time = KernelAttribute("bool", "Whether Simulate prints its progress", default=False)
    data_path = KernelAttribute("str", "Directory where recorders with record_to 'ascii' write their files "
                                "('' : the current directory)", default="")
    data_prefix = KernelAttribute("str", "Prefix of the names of the files recorders write", default="")
    overwrite_files = KernelAttribute("bool", "Whether recorders may overwrite existing files "
                                      "(otherwise an existing file stops Simulate)", default=False)
    verbosity = KernelAttribute("VerbosityLevel", "Verbosity of messages: the lowest severity nest.message prints",
                                default=VerbosityLevel.INFO)
    kernel_status = KernelAttribute("dict", "Every kernel setting", readonly=True, in_status=False)

    def __init__(self) -> None:
        self.generation = 0
        self.reset()

    # ------------------------------------------------------------- settings
    @classmethod
    def settings(cls) -> dict[str, KernelAttribute]:
        """Every declared setting, by name."""
        return {k: v for k, v in vars(cls).items() if isinstance(v, KernelAttribute)}

    @classmethod
    def parameters(cls) -> list[str]:
        """The keys NEST's ``SetKernelStatus`` knows (its kernel attributes), sorted."""
        return sorted(k for k, v in cls.settings().items() if v.attribute)

    def _before_change(self, what: str) -> None:
        if self.sim is not None:
            raise E.NotImplemented(f"changing {what} after Simulate is not supported yet; call ResetKernel")
        self.probe = None

    # ---- time
    def _set_resolution(self, h: float) -> float:
        if self.sim is not None or self.blocks:
            raise E.KernelError("Nodes have already been created: time representation cannot be changed "
                                "(call ResetKernel first).")
        self.probe = None
        tic = 1.0 / self.tics_per_ms
        if not np.isfinite(h) or h < tic * (1 - 1e-9):
            raise E.KernelError(f"Resolution must be greater than or equal to one tic ({tic} ms). Value unchanged.")
        if abs(h / tic - round(h / tic)) > 1e-9 * max(1.0, h / tic):
            # NEST's clock counts whole tics: a resolution must be a whole number of them.
            raise E.KernelError(f"resolution {h} ms must be a multiple of the tic, {tic} ms. Value unchanged.")
        self._net = None
        return h

    def _set_tics_per_ms(self, value: int) -> float:
        if float(value) != 1000.0:
            raise E.NotImplemented(f"tics_per_ms {value}: only NEST's default tic of 1 us (tics_per_ms 1000) is "
                                   "supported by cortex_gpu.pynest")
        return float(value)

    def _get_ms_per_tic(self) -> float:
        return 1.0 / self.tics_per_ms

    def _get_tics_per_step(self) -> int:
        return int(round(self.resolution * self.tics_per_ms))

    def _get_T_max(self) -> float:
        return float(_MAX_TICS // self.tics_per_step) * self.resolution

    def _get_T_min(self) -> float:
        return -self._get_T_max()

    def _step_ms(self, steps: int) -> float:
        """``steps`` as NEST reports a time: whole tics times ms per tic."""
        return float(steps * self.tics_per_step) * self.ms_per_tic

    def _set_biological_time(self, value: float) -> float:
        if value != 0.0:
            raise E.BadProperty(f"The simulation time can only be set to 0.0 (got biological_time {value}).")
        if self.biological_time != 0.0:
            raise E.NotImplemented("setting biological_time back to 0.0 after Simulate is not supported by "
                                   "cortex_gpu.pynest; call ResetKernel")
        return 0.0

    def _get_biological_time(self) -> float:
        if self.sim is not None:
            return self.sim.t_ms
        return self._step_ms(self.idle_steps)

    def _delay_steps(self) -> tuple[int, int] | None:
        """Smallest and largest delay of any connection (devices' included), in steps; None if none."""
        h = self.resolution
        delays = [int(delay_to_steps(d.delay_ms, h)) for d in self.net.drives]
        for c in self.device_conns:
            if c[3].size:
                steps = delay_to_steps(c[3], h)
                delays += [int(steps.min()), int(steps.max())]
        if self.net.projections:
            sim = self.sim
            if sim is None:      # delays drawn from a distribution are known once drawn: a build for looking
                if self.probe is None:
                    from .simulation import new_simulation
                    self.probe = new_simulation()
                sim = self.probe
            report = sim.build()
            if report.n_synapses:
                delays += [int(report.min_delay_steps), int(report.max_delay_steps)]
        return (max(min(delays), 1), max(delays)) if delays else None

    def _delay_extremes(self) -> tuple[float, float]:
        net = self._delay_steps()
        user = self._values.get("delay_extrema")
        if user is None:
            lo, hi = net if net is not None else (1, 1)
            return self._step_ms(lo), self._step_ms(hi)
        lo, hi = user
        if net is not None:      # NEST refuses such connections; here they are simulated, so report them
            lo, hi = min(lo, self._step_ms(net[0])), max(hi, self._step_ms(net[1]))
        return lo, hi

    def _get_min_delay(self) -> float:
        return self._delay_extremes()[0]

    def _get_max_delay(self) -> float:
        return self._delay_extremes()[1]

    def _set_delay_extrema(self, lo: float, hi: float) -> None:
        """``min_delay`` and ``max_delay`` set together, before any connection, as NEST requires."""
        if self.device_conns or self.net.projections or self.net.drives:
            raise E.BadProperty("Connections already exist. Please call ResetKernel first")
        h = self.resolution
        lo_steps, hi_steps = int(delay_to_steps(lo, h)), int(delay_to_steps(hi, h))
        if lo_steps < 1:
            raise E.BadDelay(f"Delay value {lo} is invalid: min_delay must be greater than or equal to resolution.")
        if hi_steps < lo_steps:
            raise E.BadDelay(f"Delay value {hi} is invalid: max_delay must be greater than or equal to min_delay.")
        self._values["delay_extrema"] = (self._step_ms(lo_steps), self._step_ms(hi_steps))

    def _set_min_delay(self, value: float) -> float:
        raise E.BadProperty("Both min_delay and max_delay have to be specified")

    _set_max_delay = _set_min_delay

    # ---- random numbers
    def _set_rng_seed(self, value: int) -> int:
        self._before_change("rng_seed")
        if not 1 <= value <= 2 ** 32 - 1:
            raise E.BadProperty(f"RNG seed must be in (0, 2^32-1) (got rng_seed {value}).")
        return value

    def _set_rng_type(self, value: str) -> str:
        if value not in RNG_TYPES:
            raise E.BadProperty(f"'{value}' is not a known RNG type. See /rng_types for available types")
        return value

    # ---- parallelism
    def _check_threads_changeable(self) -> None:
        if self.blocks or self.sim is not None:
            raise E.KernelError("Number of threads unchanged. Error conditions: Nodes exist"
                                + (". Network has been simulated." if self.sim is not None else "."))

    def _set_local_num_threads(self, value: int) -> int:
        self._check_threads_changeable()
        if value < 1:
            raise E.BadProperty(f"local_num_threads must be a positive integer, got {value}")
        self.probe = None
        return value

    def _get_total_num_virtual_procs(self) -> int:
        return self.local_num_threads * self.comm.size

    def _set_total_num_virtual_procs(self, value: int) -> int:
        self._check_threads_changeable()
        if value < 1 or value % self.comm.size:
            raise E.BadProperty(f"total_num_virtual_procs must be a positive multiple of the {self.comm.size} "
                                f"MPI process(es), got {value}")
        self.local_num_threads = value // self.comm.size
        return self.local_num_threads * self.comm.size

    def _get_num_processes(self) -> int:
        return self.comm.size

    def _get_mpi_rank(self) -> int:
        return self.comm.rank

    @property
    def comm(self):
        """This process's communicator: MPI under mpiexec/srun, else a single rank."""
        if getattr(self, "_comm", None) is None:
            from ..comm import world
            self._comm = world()
        return self._comm

    def _get_spike_buffer_resize_log(self) -> dict[str, np.ndarray]:
        return {k: np.zeros(0) for k in ("global_max_spikes_sent", "new_buffer_size", "times")}

    # ---- what this layer cannot honour, accepted at NEST's default
    def _set_structural_plasticity_synapses(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise E.TypeMismatch(f"structural_plasticity_synapses must be a dict, got {type(value).__name__}")
        if value:
            raise E.NotImplemented("structural plasticity (structural_plasticity_synapses) is not supported by "
                                   "cortex_gpu.pynest")
        return {}

    def _set_update_time_limit(self, value: float) -> float:
        if value != float("inf"):
            raise E.NotImplemented(f"update_time_limit {value} s: the engine does not time single update steps, "
                                   "so only inf (NEST's default) is supported by cortex_gpu.pynest")
        return value

    def _get_cycle_time_log(self) -> dict:
        raise KeyError("cycle_time_log")       # as NEST builds without detailed timers

    # ---- the network and its models
    def _get_network_size(self) -> int:
        return self.n_nodes

    def _get_num_connections(self) -> int:
        # counted, not listed: listing 1e8 connections (GetConnections) would cost gigabytes
        from .connect import core_connection_count
        return core_connection_count() + sum(int(src.size) for src, *_ in self.device_conns)

    def _get_node_models(self) -> list[str]:
        from .models import node_model_names
        return node_model_names()

    def _get_synapse_models(self) -> list[str]:
        return sorted(self.synapse_registry)

    def _get_connection_rules(self) -> list[str]:
        return sorted(RULES)

    def _get_recording_backends(self) -> list[str]:
        from . import devices
        return sorted(getattr(devices, "RECORDING_BACKENDS", ("memory",)))

    # ---- running and measuring
    def _get_prepared(self) -> bool:
        return self.is_prepared

    def _get_min_update_time(self) -> float:
        return min(self.update_times, default=float("inf"))

    def _get_max_update_time(self) -> float:
        return max(self.update_times, default=float("-inf"))

    def _get_memory_size(self) -> int:
        return _vm_size_kb()

    def _get_build_info(self) -> dict[str, Any]:
        return build_info()

    def _get_time_communicate_prepare(self) -> np.ndarray:
        return np.zeros(1)

    _get_time_communicate_prepare_cpu = _get_time_communicate_prepare

    @contextlib.contextmanager
    def timed(self, key: str) -> Iterator[None]:
        """Add the wall-clock and CPU seconds of the ``with`` block to the timers ``key`` and ``key_cpu``."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self._values[key] = self._values.get(key, 0.0) + time.perf_counter() - wall
            self._values[key + "_cpu"] = self._values.get(key + "_cpu", 0.0) + time.process_time() - cpu

    # ---- this layer's settings and output
    def _set_weight_dtype(self, value: str) -> str:
        self._before_change("weight_dtype")
        if value not in ("float32", "float64"):
            raise E.BadProperty(f"weight_dtype must be 'float32' or 'float64', got {value!r}")
        return value

    def _set_backend(self, value: str) -> str:
        self._before_change("backend")
        return value

    def _set_data_path(self, value: str) -> str:
        if value and not os.path.isdir(value):
            # NEST logs this error and keeps the old data_path rather than raising
            print(f"[ERROR] Variable data_path not set: Directory '{value}' does not exist.", file=sys.stderr)
            return self.data_path
        return value

    def _set_data_prefix(self, value: str) -> str:
        if "/" in value:
            print("[ERROR] Data prefix must not contain path elements.", file=sys.stderr)   # NEST keeps the old one
            return self.data_prefix
        return value

    def _set_verbosity(self, value: Any) -> VerbosityLevel:
        if not isinstance(value, VerbosityLevel):
            raise E.TypeMismatch(f"Expected datatype: Failed to cast 'verbosity' from "
                                 f"{_CXX_TYPES.get(type(value), type(value).__name__)} to type nest::VerbosityLevel")
        return value

    def _get_kernel_status(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k, v in sorted(self.settings().items()) if v.in_status}

    def status(self, keys: Any = None) -> Any:
        """``GetKernelStatus``: everything (dict), one value (``keys`` a string) or a tuple of values."""
        if keys is None:
            return self.kernel_status
        if isinstance(keys, str):
            return self._value(keys)
        try:
            keys = list(keys)
        except TypeError:
            raise TypeError("keys should be either a string or an iterable") from None
        return tuple(self._value(k) for k in keys)

    def _value(self, key: str) -> Any:
        attr = self.settings().get(key)
        if attr is None or not attr.in_status:
            raise KeyError(key)
        return getattr(self, key)

    def set_status(self, params: dict[str, Any]) -> None:
        """``SetKernelStatus``: NEST's checks of the keys, then every value or none.

        An unknown or read-only key is a :class:`ValueError` (a warning, and
        the key is ignored, with ``dict_miss_is_error`` False), as PyNEST's.
        """
        if not isinstance(params, dict):
            raise TypeError(f"SetKernelStatus takes a dict, got {type(params).__name__}")
        params = dict(params)
        raise_errors = params.get("dict_miss_is_error", self.dict_miss_is_error)
        valid = self.parameters()
        for key in list(params):
            msg = None
            if key not in valid:
                msg = (f"`{key}` is not a valid kernel parameter, valid parameters are: "
                       + ", ".join(f"'{p}'" for p in valid))
            elif self.settings()[key].readonly:
                msg = f"`{key}` is a readonly kernel parameter"
            if msg is not None:
                if raise_errors:
                    raise ValueError(msg)
                warnings.warn(msg + f" \n`{key}` has been ignored")
                del params[key]
        if "tics_per_ms" in params and "resolution" not in params:
            raise E.KernelError("Change of tics_per_ms requires simultaneous specification of resolution.")
        saved = dict(self._values)
        try:
            # tics before the resolution they measure, the resolution before the delays it measures
            order = {"tics_per_ms": 0, "resolution": 1}
            delays = [params.pop(k) for k in ("min_delay", "max_delay") if k in params]
            for k in sorted(params, key=lambda k: order.get(k, 2)):
                setattr(self, k, params[k])
            if len(delays) == 1:
                raise E.BadProperty("Both min_delay and max_delay have to be specified")
            if delays:
                self._set_delay_extrema(_cast("min_delay", "float", delays[0]), _cast("max_delay", "float", delays[1]))
        except BaseException:
            self._values = saved
            raise

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
        # Connect(poisson_generator, spike_recorder): (generator node id, recorder node id), each the
        # recorder's own train (devices.record_generator_trains)
        self.recorded_trains: list[tuple[int, int]] = []
        self.is_prepared = False   # between Prepare and Cleanup
        self.idle_steps = 0        # steps run with no neurons to simulate (no Simulation exists then)
        self.update_times: list[float] = []   # mean wall-clock s per update step of each Run call
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
        if self.sim is not None or self.idle_steps:
            raise E.NotImplemented(f"{what}: changing the network after Simulate is not supported "
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


def set(**params: Any) -> None:
    """Set kernel attributes by keyword, as NEST's ``nest.set(rng_seed=5)`` (a positional dict is a TypeError)."""
    KERNEL.set_status(params)


def get(*keys: str) -> Any:
    """Every kernel attribute (dict), one value (one key) or a tuple of values, as NEST's ``nest.get``."""
    if not keys:
        return KERNEL.status(None)
    if len(keys) == 1:
        return KERNEL.status(keys[0])
    return tuple(KERNEL.status(list(keys)))


def set_verbosity(level: Any) -> None:
    """Set NEST's verbosity (``"M_ERROR"``, a :class:`VerbosityLevel` or an int); it filters :func:`message`."""
    KERNEL.verbosity = _verbosity(level)


def timed_as(key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the calls of a PyNEST function count into the kernel timers ``key`` and ``key_cpu``."""
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            with KERNEL.timed(key):
                return function(*args, **kwargs)
        return timed_call
    return decorate


def message(message: str, severity: Any = VerbosityLevel.INFO, *, function: str | None = None,
            filename: str | None = None, lineno: int | None = None) -> None:
    """Print ``message`` as NEST's logger does, when ``severity`` reaches the kernel's verbosity.

    The line is ``[LEVEL] [date time] message`` on stdout (stderr from ``WARNING`` up); at verbosity
    ``DEBUG`` or ``ALL`` the caller's file, line and function are added, as in
    NEST (``[INFO] [2026-12-04 20:59:13 script.py:4 @ f] message``).
    """
    level = _verbosity(severity)
    if level < KERNEL.verbosity:
        return
    caller = inspect.stack()[1]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    if KERNEL.verbosity <= VerbosityLevel.DEBUG:
        stamp += f" {filename or caller.filename}:{lineno or caller.lineno} @ {function or caller.function}"
    stream = sys.stderr if level >= VerbosityLevel.WARNING else sys.stdout
    print(f"[{level.name}] [{stamp}] {message}", file=stream, flush=True)


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
        if name in UNSUPPORTED_API:
            raise NotImplementedError(f"nest.{name} is not supported by cortex_gpu.pynest")
        raise AttributeError(f"module 'cortex_gpu.pynest' has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Kernel.settings():
            if Kernel.settings()[name].readonly:   # NEST: `nest.x = ...` on a read-only key
                raise AttributeError(f"`{name}` is a read-only kernel attribute.")
            KERNEL.set_status({name: value})
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
