"""Shared machinery of neuron models: parameter tables, validation, the column layout."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Param", "NeuronModel", "ModelError", "PROP_COLUMNS", "N_PROP", "col", "ARCHIVING_PARAMS", "port_lists",
           "N_PORT_PROP", "MAX_PORTS"]


class ModelError(ValueError):
    """A model, parameter or value that cannot be simulated."""


@dataclass(frozen=True)
class Param:
    """One model parameter: default, unit and meaning (NEST's names and units)."""

    default: float
    unit: str
    doc: str
    #: a flag (NEST reports True/False); kept as 0.0/1.0 in the float parameter arrays
    boolean: bool = False


#: Per-neuron float64 columns that the update kernels read. Every model
#: shares the layout so that one kernel signature serves every backend; a
#: model leaves the columns it does not use at 0. New columns go at the end,
#: so the indices the existing kernels read never move.
PROP_COLUMNS = (
    "P22",      # membrane decay over one step, exp(-h/tau_m) (alpha: expm1(-h/tau_m))
    "P21ex",    # V from I_ex (exp) / P32ex (alpha)
    "P21in",    # V from I_in (exp) / P32in (alpha)
    "P20",      # V from I_e + i_0 (exp) / P30 (alpha)
    "P11ex",    # decay of i_ex (exp) / of dI_ex and I_ex (alpha)
    "P11in",
    "P31ex",    # alpha: V from dI_ex
    "P31in",
    "P21Iex",   # alpha: I_ex from dI_ex (h * P11ex)
    "P21Iin",
    "psc0ex",   # alpha: dI jump per pA of weight (e/tau_syn_ex)
    "psc0in",
    "I_e",      # pA
    "theta",    # V_th - E_L, mV
    "V_reset",  # V_reset - E_L, mV
    "E_L",      # mV
    "V_min",    # lower bound of V - E_L, mV (-inf: none)
    "g_L",      # cond_exp: leak conductance, nS
    "C_m",      # cond_exp: membrane capacitance, pF
    "E_ex",     # cond_exp: E_ex - E_L, mV
    "E_in",     # cond_exp: E_in - E_L, mV
    "tau_syn_ex",  # cond_exp: ms
    "tau_syn_in",  # cond_exp: ms
    "h",        # cond_exp: the resolution, ms (the span its ODE solver covers per step)
    "tau_minus",  # every model: time constant of the post-synaptic STDP trace, ms
    "tau_sfa",  # iaf_cond_exp_sfa_rr: decay of g_sfa, ms
    "tau_rr",   # iaf_cond_exp_sfa_rr: decay of g_rr, ms
    "E_sfa",    # iaf_cond_exp_sfa_rr: E_sfa - E_L, mV
    "E_rr",     # iaf_cond_exp_sfa_rr: E_rr - E_L, mV
    "q_sfa",    # iaf_cond_exp_sfa_rr: g_sfa jump per spike, nS
    "q_rr",     # iaf_cond_exp_sfa_rr: g_rr jump per spike, nS
    "Delta_T",  # aeif: slope factor, mV (aeif keeps potentials absolute: its E_L column is 0)
    "tau_w",    # aeif: adaptation time constant, ms
    "a",        # aeif: subthreshold adaptation, nS
    "b",        # aeif: spike-triggered adaptation, pA
    "V_peak",   # aeif: V_m is taken at min(V_m, V_peak) in the right-hand side, mV
    "V_th",     # aeif: V_th of the exponential term, mV
    "E_L_abs",  # aeif: E_L, mV
    "gsl_error_tol",  # aeif: absolute and relative tolerance of the ODE solver
    "refr_input",  # psc_delta: 1.0 keeps input arriving while refractory (refractory_input), else 0.0
)
N_PROP = len(PROP_COLUMNS)


def col(name: str) -> int:
    """Column index of ``name`` in the propagator table."""
    return PROP_COLUMNS.index(name)


#: Parameters every neuron model has because plastic synapses may target it (NEST's
#: ArchivingNode): the post-synaptic trace of stdp_pl_synapse_hom decays with tau_minus.
ARCHIVING_PARAMS = {"tau_minus": Param(20.0, "ms", "time constant of the post-synaptic STDP trace")}


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model: its parameter table and how to turn it into kernel columns.

    ``params`` maps NEST parameter names to :class:`Param`; ``state`` maps
    state variables to ``(initial value, unit, meaning)``. ``prepare`` takes
    per-neuron float64 parameter arrays and the resolution ``h_ms`` and
    returns the ``(n, N_PROP)`` column table and the ``(n,)`` refractory
    step counts. ``slots`` names the state variables that the kernels keep
    in their ``V`` (as ``V_m - E_L``), ``I_ex``, ``I_in`` and (optionally)
    ``dI_ex``, ``dI_in``, ``w_ad`` arrays ("" for one a model leaves unused). ``recordables`` are NEST's: the multimeter
    records them (default: every state variable).
    """

    name: str
    kind: int  # model id the kernels branch on
    params: dict[str, Param]
    state: dict[str, tuple[float, str, str]]
    prepare: object = field(repr=False)
    check: object = field(repr=False)
    slots: tuple[str, ...] = ("V_m", "I_syn_ex", "I_syn_in")
    recordables: tuple[str, ...] | None = None
    #: receptor-port models (NEST's *_multisynapse): the list-valued parameter whose length is the
    #: number of ports (``tau_syn``), its default, and ``prepare_ports(values, lists, h_ms)`` giving
    #: the ``(n_ports_total, N_PORT_PROP)`` per-port propagators of the neurons, port after port
    port_param: str = ""
    port_default: tuple[float, ...] = ()
    prepare_ports: object = field(default=None, repr=False)
    #: archiving parameters the model file does not list itself; they are appended to
    #: ``params`` and drawn after the state (so that adding them moved no random stream)
    appended: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self):
        extra = tuple(k for k in ARCHIVING_PARAMS if k not in self.params)
        object.__setattr__(self, "params", {**self.params, **{k: ARCHIVING_PARAMS[k] for k in extra}})
        object.__setattr__(self, "appended", extra)
        if self.recordables is None:
            object.__setattr__(self, "recordables", tuple(self.state))

    @property
    def draw_order(self) -> list[str]:
        """Parameter and state names in the order of their random streams (see build._param_values)."""
        return [k for k in self.params if k not in self.appended] + list(self.state) + list(self.appended)

    @property
    def defaults(self) -> dict[str, float]:
        return {k: p.default for k, p in self.params.items()}

    def validate(self, where: str, values: dict[str, np.ndarray], full: bool = True) -> None:
        """Raise :class:`ModelError` naming ``where`` for any bad value.

        With ``full``, ``values`` holds every parameter and the model's
        consistency checks (positive time constants, V_reset < V_th) run too.
        """
        known = set(self.params) | set(self.state) | ({self.port_param} if self.port_param else set())
        for key, arr in values.items():
            if key == self.port_param and key:
                for lst in port_lists(arr, 1 if _is_one_list(arr) else len(arr)):
                    if not lst or len(lst) > MAX_PORTS:
                        raise ModelError(f"{where}: model {self.name}: {key} needs 1 to {MAX_PORTS} time "
                                         f"constants (one per receptor port), got {len(lst)}")
                    if not all(np.isfinite(x) and x > 0 for x in lst):
                        raise ModelError(f"{where}: model {self.name}: all synaptic time constants must be "
                                         f"strictly positive, got {key} = {list(lst)}")
                continue
            if key not in known:
                raise ModelError(
                    f"{where}: unknown parameter '{key}' for model {self.name} "
                    f"(known: {', '.join(sorted(known))})")
            a = np.asarray(arr, dtype=float)
            if not np.all(np.isfinite(a)) and key != "V_min":
                bad = a[~np.isfinite(a)][0]
                raise ModelError(f"{where}: parameter {key} must be finite, got {bad}")
        if full:
            positive(where, values, *(k for k in ARCHIVING_PARAMS if k in values))
            self.check(where, values)


#: Most receptor ports of one neuron: ports travel as one byte per synapse (``DeliveryLayout.syn_port``).
MAX_PORTS = 255
#: Per-port propagator columns of the receptor-port models (``Neurons.rx_prop``): exp: P11 (decay of
#: I_syn), P21 (V from I_syn); alpha: P11 (decay of dI and I), P21 (I from dI: h P11), P31 (V from dI),
#: P32 (V from I), psc0 (dI jump per pA of weight, e / tau_syn).
N_PORT_PROP = 5


def _is_one_list(value) -> bool:
    """Whether ``value`` is one flat list of numbers (not a list of lists, which may be ragged)."""
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype != object
    return isinstance(value, (list, tuple)) and all(np.ndim(x) == 0 for x in value)


def port_lists(value, n: int) -> list[tuple[float, ...]]:
    """A receptor-port parameter as one tuple per neuron: ``value`` is one list for all ``n`` neurons
    or ``n`` lists (one per neuron)."""
    if _is_one_list(value):
        return [tuple(float(x) for x in value)] * n
    lists = [tuple(float(x) for x in np.ravel(v)) for v in value]
    if len(lists) != n:
        raise ModelError(f"need one list of time constants or {n} lists, got {len(lists)}")
    return lists


def positive(where: str, values: dict[str, np.ndarray], *names: str) -> None:
    """Raise unless every named parameter is > 0 for every neuron."""
    for name in names:
        a = np.asarray(values[name])
        if np.any(a <= 0):
            raise ModelError(f"{where}: {name} must be > 0, got {a[a <= 0].flat[0]}")


def expm1_ratio_propagator(tau_syn: np.ndarray, tau_m: np.ndarray, c_m: np.ndarray,
                           h: float) -> np.ndarray:
    """``tau_s*tau_m/(C_m*(tau_m-tau_s)) * (exp(-h/tau_m) - exp(-h/tau_s))``, evaluated stably.

    Uses ``gamma*exp(-h/tau_s)*expm1(h/beta)`` with ``beta = tau_s*tau_m/(tau_m-tau_s)``
    and ``gamma = beta/C_m``, falling back to the ``tau_m == tau_s`` limit
    ``h/C_m*exp(-h/tau_m)`` where that is not a positive normal number.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta = tau_syn * tau_m / (tau_m - tau_syn)
        gamma = beta / c_m
        p = gamma * np.exp(-h / tau_syn) * np.expm1(h / beta)
    ok = np.isfinite(p) & (p >= np.finfo(float).tiny)
    return np.where(ok, p, h / c_m * np.exp(-h / tau_m))


def refractory_steps(t_ref: np.ndarray, h: float) -> np.ndarray:
    """Refractory period in whole steps, rounded to nearest as NEST's Time does."""
    return np.floor(np.asarray(t_ref) / h + 0.5).astype(np.int32)
