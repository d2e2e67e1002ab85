"""Synapse models: NEST 3.10's names, parameters (units, defaults) and plasticity rules.

Each model is one :class:`SynapseModel` entry of :data:`SYNAPSE_LIBRARY`;
:mod:`cortex_gpu.network` takes its table of models from here, and the
kernels branch on ``rule`` (cortex_gpu/backends/cpu.py ``_facilitate`` /
``_depress``, kernels/stdp.cuh ``cg_stdp_facilitate`` / ``cg_stdp_depress``).

Plastic rules (spike times t in ms, delay d treated as dendritic, as in NEST;
at each pre spike, after the facilitation by every post spike t_u with
``t_last - d < t_u <= t - d`` in time order, the depression by the post trace
``K_minus(t - d)`` just before ``t - d``; then ``Kplus`` advances):

``RULE_PL`` -- stdp_pl_synapse_hom (Morrison et al. 2007, MODELS.md section 3),
    parameters common to the model::

        facilitate: w + lambda * w**mu * Kplus * exp((t_last - (t_u + d)) / tau_plus)
        depress:    max(0, w - lambda * alpha * w * K_minus)
        Kplus <- Kplus * exp((t_last - t) * (1 / tau_plus)) + 1

``RULE_PAIR`` -- stdp_synapse and stdp_synapse_hom (Guetig et al. 2003;
    Rubin, Lee and Sompolinsky 2001; van Rossum, Bi and Turrigiano 2000), on
    the weight normalised by ``Wmax``, ``x = w / Wmax``::

        facilitate: x + lambda * (1 - x)**mu_plus * Kplus * exp((t_last - (t_u + d)) / tau_plus),
                    then w = min(x, 1) * Wmax (Wmax when x >= 1)
        depress:    x - alpha * lambda * x**mu_minus * K_minus,  then w = x * Wmax if x > 0 else 0
        Kplus <- Kplus * exp((t_last - t) / tau_plus) + 1

    NEST 3.10's ``stdp_synapse`` is all-to-all (every post spike since the
    last pre spike facilitates, the whole trace depresses); the nearest-spike
    variants are separate models (``stdp_nn_*``), not built here.
    ``stdp_synapse`` keeps its parameters per connection, ``stdp_synapse_hom``
    common to the model (``SetDefaults``/``CopyModel`` only).

The post trace ``K_minus`` belongs to the post neuron (NEST's ArchivingNode,
its parameter ``tau_minus``, models/_base.py ARCHIVING_PARAMS):
``K_minus <- K_minus * exp((t_last_post - t_post) / tau_minus) + 1`` at each
post spike. ``exp`` and ``pow`` are cortex_gpu.philox.pexp / ppow (the same
bits on CPU and GPU; NEST's libm differs by an ulp or so per update).

Where cortex_gpu departs from NEST: ``tau_plus`` <= 0 is refused (NEST
accepts it and lets ``Kplus`` grow without bound); ``Kplus`` starts at 0 (a
non-zero initial ``Kplus`` is not built); a connection's plastic parameters
must be the same for every connection of the network (per-connection values
that differ between connections are not built: the rule's parameters travel
to the kernels once per network).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._base import ModelError

__all__ = ["SynapseModel", "SYNAPSE_LIBRARY", "RULE_STATIC", "RULE_PL", "RULE_PAIR", "synapse_rule"]

RULE_STATIC, RULE_PL, RULE_PAIR = -1, 0, 1


@dataclass(frozen=True)
class SynapseModel:
    """A synapse model: its rule, its plasticity parameters (NEST's names and defaults) and
    which of them a ``Connect`` may give per connection (``per_connection``); the others are
    common to the model (``SetDefaults``/``CopyModel``). ``units`` gives each parameter's unit."""

    name: str
    rule: int
    defaults: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    per_connection: bool = False

    def validate(self, where: str, values: dict[str, float]) -> None:
        """Raise :class:`ModelError` naming the model, the parameter and the value for a bad value."""
        for key, v in values.items():
            if key not in self.defaults:
                raise ModelError(f"{where}: unknown parameter '{key}' of {self.name} "
                                 f"(known: {', '.join(self.defaults) or 'none'})")
            if not np.isfinite(float(v)):
                raise ModelError(f"{where}: {self.name} parameter {key} must be finite, got {v}")
        if "tau_plus" in values and not float(values["tau_plus"]) > 0:
            raise ModelError(f"{where}: {self.name} parameter tau_plus must be > 0 ms, got {values['tau_plus']}")
        if "Wmax" in values and float(values["Wmax"]) == 0:
            raise ModelError(f"{where}: {self.name} parameter Wmax must not be 0, got {values['Wmax']}")

    def check_weight(self, where: str, low: float, high: float, params: dict[str, float]) -> None:
        """Weights in ``[low, high]`` (bounds of the values or of their distribution): stdp_pl_synapse_hom's
        must be >= 0. The pair rule takes any sign at Connect, as NEST 3.10 does (its same-sign check of
        weight and Wmax runs in SetStatus only); a weight of the other sign than Wmax is depressed to 0
        at the first pre spike."""
        if self.rule == RULE_PL and not low >= 0:
            raise ModelError(f"{where}: {self.name} weights must be >= 0 (excitatory), got {low}; bound a "
                             "distribution with redraw(..., min=0)")


_PAIR = {"tau_plus": 20.0, "lambda": 0.01, "alpha": 1.0, "mu_plus": 1.0, "mu_minus": 1.0, "Wmax": 100.0}
_PAIR_UNITS = {"tau_plus": "ms", "lambda": "1", "alpha": "1", "mu_plus": "1", "mu_minus": "1", "Wmax": "pA"}

#: Every synapse model the core simulates, by NEST name.
SYNAPSE_LIBRARY: dict[str, SynapseModel] = {m.name: m for m in (
    SynapseModel("static_synapse", RULE_STATIC),
    SynapseModel("stdp_pl_synapse_hom", RULE_PL, {"tau_plus": 20.0, "lambda": 0.1, "alpha": 1.0, "mu": 0.4},
                 {"tau_plus": "ms", "lambda": "1", "alpha": "1", "mu": "1"}),
    SynapseModel("stdp_synapse", RULE_PAIR, dict(_PAIR), dict(_PAIR_UNITS), per_connection=True),
    SynapseModel("stdp_synapse_hom", RULE_PAIR, dict(_PAIR), dict(_PAIR_UNITS)),
)}


def synapse_rule(base: str) -> int:
    """The rule id of built-in synapse model ``base``."""
    return SYNAPSE_LIBRARY[base].rule
