"""Networks by name, for the command line and the memory planner.

Each entry maps a name to ``factory(scale=1.0, **kwargs) -> Network``; a new
model is one line in :data:`NETWORKS`. ``scale`` shrinks the model (PD14:
neurons and indegrees together, as ``cortex-gpu run --scale`` does).
"""
from __future__ import annotations

from typing import Callable

from ..network import Network

__all__ = ["NETWORKS", "make_network"]


def _microcircuit(scale: float = 1.0, **kwargs) -> Network:
    from .microcircuit import microcircuit
    return microcircuit(N_scaling=scale, K_scaling=scale, **kwargs)[0]


#: name -> factory(scale=1.0, **kwargs) returning the network.
NETWORKS: dict[str, Callable[..., Network]] = {
    "microcircuit": _microcircuit,
}


def make_network(name: str, scale: float = 1.0, **kwargs) -> Network:
    """The network ``name`` at ``scale``; a clear error for an unknown name."""
    try:
        factory = NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(NETWORKS))})") from None
    return factory(scale, **kwargs)
