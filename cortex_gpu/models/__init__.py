"""Neuron models and the model library (networks: the PD14 microcircuit, the synthetic multi-area model,
the multi-area model of macaque visual cortex)."""
from __future__ import annotations

from ._base import N_PROP, PROP_COLUMNS, ModelError, NeuronModel, col
from .aeif_cond_alpha import model as aeif_cond_alpha
from .aeif_cond_exp import model as aeif_cond_exp
from .iaf_cond_alpha import model as iaf_cond_alpha
from .iaf_cond_exp import model as iaf_cond_exp
from .iaf_cond_exp_sfa_rr import model as iaf_cond_exp_sfa_rr
from .iaf_psc_alpha import model as iaf_psc_alpha
from .iaf_psc_alpha_multisynapse import model as iaf_psc_alpha_multisynapse
from .iaf_psc_delta import model as iaf_psc_delta
from .iaf_psc_exp import model as iaf_psc_exp
from .iaf_psc_exp_multisynapse import model as iaf_psc_exp_multisynapse
from .parrot_neuron import model as parrot_neuron

__all__ = ["NEURON_MODELS", "SOURCE_MODELS", "get_model", "ModelError", "NeuronModel",
           "PROP_COLUMNS", "N_PROP", "col", "microcircuit", "multi_area", "macaque_multi_area"]

#: Neuron models that integrate state and can be the target of projections.
NEURON_MODELS: dict[str, NeuronModel] = {m.name: m for m in (iaf_psc_exp, iaf_psc_alpha, iaf_cond_exp,
                                                                parrot_neuron, iaf_cond_alpha,
                                                                iaf_cond_exp_sfa_rr, aeif_cond_exp,
                                                                aeif_cond_alpha, iaf_psc_delta,
                                                                iaf_psc_exp_multisynapse,
                                                                iaf_psc_alpha_multisynapse)}

#: Models that only emit given spikes (NEST's spike_generator), one id each.
SOURCE_MODELS = ("spike_generator",)


def get_model(name: str, where: str = "Create") -> NeuronModel:
    """The neuron model called ``name``; a clear error for anything else."""
    try:
        return NEURON_MODELS[name]
    except KeyError:
        raise ModelError(
            f"{where}: unknown neuron model '{name}' "
            f"(available: {', '.join(sorted(NEURON_MODELS) + list(SOURCE_MODELS))})") from None

# Imported eagerly: a lazy wrapper named like the submodule is replaced by the module
# object as soon as anything imports cortex_gpu.models.microcircuit.
from .microcircuit import microcircuit  # noqa: E402
from .multi_area import multi_area  # noqa: E402
from .macaque_multi_area import macaque_multi_area  # noqa: E402
