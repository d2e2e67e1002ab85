"""NEST's IAFPropagator (libnestutil/iaf_propagator.cpp): the effect of a synaptic current on V_m.

Evaluated with Python's ``math`` (the C library's ``exp``/``expm1``, as NEST calls them), one
scalar at a time, so that the propagators are NEST's to the last bit: NumPy's vectorised ``exp``
may round differently. Used by the receptor-port models, whose time constants come per port.
"""
from __future__ import annotations

import math

__all__ = ["p32", "p31_p32"]

#: NEST's NUMERICAL_STABILITY_FACTOR_: the regular P31 applies for h > 1e-7 tau_m**2 / |tau_m - tau_syn|.
_STABILITY = 1e-7


def _p32(tau_syn: float, tau_m: float, c_m: float, h: float) -> tuple[float, float, float, float]:
    """(P32, exp(-h/tau_syn), expm1(h/beta), exp(-h/tau_m) or nan): NEST's evaluate_P32_."""
    inv_beta = (tau_m - tau_syn) / (tau_syn * tau_m)
    with_beta = tau_syn * tau_m / (tau_m - tau_syn) if tau_m != tau_syn else math.inf
    gamma = with_beta / c_m
    exp_h_tau_syn = math.exp(-h * (1 / tau_syn))
    expm1_h_tau = math.expm1(h * inv_beta)
    v = gamma * exp_h_tau_syn * expm1_h_tau if math.isfinite(gamma) else math.nan
    if math.isfinite(v) and v > 0 and abs(v) >= 2.2250738585072014e-308:
        return v, exp_h_tau_syn, expm1_h_tau, math.nan
    exp_h_tau = math.exp(-h * (1 / tau_m))
    return h * (1 / c_m) * exp_h_tau, exp_h_tau_syn, expm1_h_tau, exp_h_tau


def p32(tau_syn: float, tau_m: float, c_m: float, h: float) -> float:
    """IAFPropagatorExp::evaluate: V_m (mV) per pA of an exponential current, over one step ``h`` (ms)."""
    return _p32(tau_syn, tau_m, c_m, h)[0]


def p31_p32(tau_syn: float, tau_m: float, c_m: float, h: float) -> tuple[float, float]:
    """IAFPropagatorAlpha::evaluate: (P31, P32), V_m per unit of dI and of I of an alpha current."""
    v32, exp_h_tau_syn, expm1_h_tau, exp_h_tau = _p32(tau_syn, tau_m, c_m, h)
    h_min_regular = _STABILITY * tau_m * tau_m / abs(tau_m - tau_syn) if tau_m != tau_syn else math.inf
    if h > h_min_regular:
        beta = tau_syn * tau_m / (tau_m - tau_syn)
        return beta / c_m * exp_h_tau_syn * (beta * expm1_h_tau - h), v32
    if math.isnan(exp_h_tau):
        exp_h_tau = math.exp(-h * (1 / tau_m))
    return 0.5 * h * h * (1 / c_m) * exp_h_tau, v32
