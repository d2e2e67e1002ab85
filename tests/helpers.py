"""Helpers shared by test modules (imported as ``helpers``: pytest puts tests/ on sys.path)."""
from __future__ import annotations

import numpy as np


def synapse_table(graphs) -> np.ndarray:
    """All synapses of built ``graphs`` as rows (source, target, delay_steps, weight), sorted:
    equal tables mean the same synapses, whoever built them."""
    parts = []
    for g in graphs:
        s = g.layout.synapses(g.neurons.gids)
        parts.append(np.column_stack([s["source"].astype(float), s["target"].astype(float),
                                      s["delay_steps"].astype(float), s["weight"]]))
    t = np.concatenate(parts) if parts else np.zeros((0, 4))
    return t[np.lexsort(t.T[::-1])]
