"""Random-stream identifiers: what each keyed draw is for.

Every random number is ``philox.block(seed, stream, entity, index, sub)``.
The stream says what the draw is for and for which object; the entity is a
global id (the post-synaptic neuron for synapses); the index numbers draws
of one entity. A draw thus depends on global ids alone, never on the rank,
thread or partition that makes it (I2, I3).
"""
from __future__ import annotations

__all__ = ["PRE", "WEIGHT", "DELAY", "COUNT", "POISSON", "PARAM", "RECEPTOR", "NOISE", "SIN_POISSON",
           "SIN_POISSON_SHARED", "RECORDED_TRAIN", "PULSE_PACKET", "stream", "MAX_OBJECT_ID"]

PRE, WEIGHT, DELAY, COUNT, POISSON, PARAM = 1, 2, 3, 4, 5, 6
#: a synapse's receptor port drawn from a distribution (receptor-port models)
RECEPTOR = 7
#: The generators' draws (cortex_gpu/generators.py): noise per connection, sinusoidal Poisson counts
#: per connection, and per generator for a shared train.
NOISE, SIN_POISSON, SIN_POISSON_SHARED = 12, 13, 14
#: A poisson_generator's train drawn for a spike_recorder connected to it (per such connection).
RECORDED_TRAIN = 15
#: pulsepacket_generator's spike times (per generator).
PULSE_PACKET = 16
MAX_OBJECT_ID = (1 << 24) - 1


def stream(purpose: int, object_id: int) -> int:
    """32-bit stream id for ``purpose`` of object ``object_id`` (projection, drive, parameter)."""
    if not 0 <= object_id <= MAX_OBJECT_ID:
        raise ValueError(f"object id {object_id} out of range for a random stream")
    return (purpose << 24) | object_id
