"""Networks by name, for the command line and the memory planner.

Each entry maps a name to ``factory(scale, **kwargs) -> (Network, info)``;
a new model is one line in :data:`NETWORKS`. ``scale`` shrinks the model
(neurons and indegrees together, as ``cortex-gpu run --scale`` does); the
keyword arguments are the model's own (``drive``, ``resolution_ms``,
``record_spikes``; ``n_areas`` for ``multi_area``; ``K_scaling``, ``state``, ``chi``, ``chi_I``
for ``macaque_multi_area``, whose ``scale`` is N_scaling; ``hpc_benchmark``
takes scales above 1 too, 10 being 112,500 neurons). ``info`` holds at least
``populations`` and ``gid_ranges``.
"""
from __future__ import annotations

from typing import Callable

from ..network import Network

__all__ = ["NETWORKS", "make_model", "make_network"]


def _microcircuit(scale: float = 1.0, **kwargs) -> tuple[Network, dict]:
    from .microcircuit import microcircuit
    return microcircuit(N_scaling=scale, K_scaling=scale, **kwargs)


def _hpc_benchmark(scale: float = 1.0, **kwargs) -> tuple[Network, dict]:
    from .hpc_benchmark import hpc_benchmark
    return hpc_benchmark(scale, **kwargs)


def _multi_area(scale: float = 1.0, n_areas: int = 4, **kwargs) -> tuple[Network, dict]:
    from .multi_area import multi_area
    return multi_area(n_areas, scale=scale, **kwargs)


def _macaque_multi_area(scale: float = 1.0, drive: str = "poisson", **kwargs) -> tuple[Network, dict]:
    from .macaque_multi_area import macaque_multi_area
    if drive != "poisson":
        raise NotImplementedError(f"macaque_multi_area: drive {drive!r} (the model has Poisson drive only)")
    return macaque_multi_area(N_scaling=scale, **kwargs)


#: name -> factory(scale, **kwargs) returning (network, info).
NETWORKS: dict[str, Callable[..., tuple[Network, dict]]] = {
    "microcircuit": _microcircuit,
    "multi_area": _multi_area,
    "hpc_benchmark": _hpc_benchmark,
    "macaque_multi_area": _macaque_multi_area,
}


def make_model(name: str, scale: float = 1.0, **kwargs) -> tuple[Network, dict]:
    """The network ``name`` at ``scale`` and its info; a clear error for an unknown name."""
    try:
        factory = NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(NETWORKS))})") from None
    return factory(scale, **kwargs)


def make_network(name: str, scale: float = 1.0, **kwargs) -> Network:
    """The network ``name`` at ``scale`` (see :func:`make_model`)."""
    return make_model(name, scale, **kwargs)[0]
