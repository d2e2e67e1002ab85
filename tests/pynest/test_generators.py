"""NEST 3.10's current and rate generators against NEST run in the same session.

step_current_generator, ac_generator and dc_generator (its activity window) give NEST's V_m traces to
1e-9 mV; noise_generator and sinusoidal_poisson_generator draw from the project's keyed streams, so their
statistics (mean, variance, rate modulation) are compared with NEST's at fixed seeds.
"""
from __future__ import annotations

import numpy as np
import pytest

T_SIM = 300.0


def _trace(nest, model, gparams, n=1, nparams=None, delay=1.0, weight=1.0, t_sim=T_SIM, resolution=0.1):
    nest.resolution = resolution
    g = nest.Create(model, params=gparams)
    nrn = nest.Create("iaf_psc_alpha", n, params=nparams or {})
    vm = nest.Create("voltmeter", params={"interval": resolution})
    nest.Connect(g, nrn, syn_spec={"weight": weight, "delay": delay})
    nest.Connect(vm, nrn)
    nest.Simulate(t_sim)
    ev = vm.get("events")
    order = np.lexsort((ev["senders"], ev["times"]))
    return np.asarray(ev["times"])[order], np.asarray(ev["V_m"])[order]


def _same_trace(theirs, mine, tol=1e-9):
    assert theirs[0].size == mine[0].size > 0
    np.testing.assert_allclose(mine[0], theirs[0], rtol=0, atol=1e-12)
    dv = np.max(np.abs(mine[1] - theirs[1]))
    assert dv <= tol, f"max |dV| = {dv} mV"
    return dv


@pytest.mark.parametrize("start,stop,delay", [(0.0, 200.0, 1.0), (50.0, np.inf, 1.0), (0.0, 120.0, 2.5),
                                              (12.3, 100.0, 0.1)])
def test_dc_generator_window_equals_nest(run_both, start, stop, delay):
    """NEST's is_active for current generators: emission steps t_min - 1 .. t_max - 2, none before step 0."""
    params = {"amplitude": 500.0, "start": start}
    if np.isfinite(stop):
        params["stop"] = stop
    _same_trace(*run_both(_trace, "dc_generator", params, delay=delay))


@pytest.mark.parametrize("offgrid", [False, True])
def test_step_current_generator_equals_nest(run_both, offgrid):
    times = [10.0, 50.0, 50.1, 120.0, 200.0] if not offgrid else [10.03, 50.0, 50.15, 120.0, 200.07]
    params = {"amplitude_times": times, "amplitude_values": [400.0, -100.0, 800.0, 0.0, 300.0],
              "start": 5.0, "stop": 250.0, "allow_offgrid_times": offgrid}
    _same_trace(*run_both(_trace, "step_current_generator", params, delay=1.5, weight=1.5))


def test_step_current_generator_setstatus_between_runs(run_both):
    def script(nest):
        g = nest.Create("step_current_generator", params={"amplitude_times": [10.0, 30.0],
                                                           "amplitude_values": [300.0, 600.0]})
        nrn = nest.Create("iaf_psc_alpha")
        vm = nest.Create("voltmeter", params={"interval": 0.1})
        nest.Connect(g, nrn, syn_spec={"delay": 2.0})
        nest.Connect(vm, nrn)
        nest.Simulate(40.0)
        # a change time already past never applies; the amplitude reached is kept until the next one
        g.set(amplitude_times=[20.0, 60.0, 80.0], amplitude_values=[100.0, 900.0, -200.0])
        nest.Simulate(60.0)
        return vm.events["times"], vm.events["V_m"], g.get("amplitude_times")
    theirs, mine = run_both(script)
    _same_trace(theirs[:2], mine[:2])
    assert np.array_equal(theirs[2], mine[2])


def test_step_current_generator_bad_input(nest_ours):
    nest = nest_ours
    with pytest.raises(ValueError, match="same size"):
        nest.Create("step_current_generator", params={"amplitude_times": [1.0, 2.0], "amplitude_values": [1.0]})
    with pytest.raises(ValueError, match="strictly positive"):
        nest.Create("step_current_generator", params={"amplitude_times": [0.0], "amplitude_values": [1.0]})


@pytest.mark.parametrize("params", [
    {"amplitude": 300.0, "frequency": 20.0},
    {"amplitude": 250.0, "offset": 150.0, "phase": 45.0, "frequency": 7.5, "start": 20.0, "stop": 230.0},
])
def test_ac_generator_equals_nest(run_both, params):
    _same_trace(*run_both(_trace, "ac_generator", params, delay=1.0, weight=2.0))


def test_ac_generator_two_simulate_calls(run_both):
    """NEST restarts the oscillator from (cos, sin)(omega t + phi) at every Simulate."""
    def script(nest):
        g = nest.Create("ac_generator", params={"amplitude": 400.0, "frequency": 33.0, "offset": 10.0})
        nrn = nest.Create("iaf_psc_alpha")
        vm = nest.Create("voltmeter", params={"interval": 0.1})
        nest.Connect(g, nrn, syn_spec={"delay": 3.0})
        nest.Connect(vm, nrn)
        nest.Simulate(100.0)
        g.set(amplitude=100.0)
        nest.Simulate(100.0)
        return vm.events["times"], vm.events["V_m"]
    _same_trace(*run_both(script))


def _noise_currents(nest, params, n=400, t_sim=200.0):
    """V_m of n neurons with huge C_m is a running sum of their input current: differences recover it."""
    nest.resolution = 0.1
    nest.rng_seed = 11
    g = nest.Create("noise_generator", params=params)
    nrn = nest.Create("iaf_psc_alpha", n, params={"C_m": 1e9, "tau_m": 1e12, "V_th": 1e9, "E_L": 0.0,
                                                    "V_m": 0.0, "V_reset": 0.0})
    mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
    nest.Connect(g, nrn)
    nest.Connect(mm, nrn)
    nest.Simulate(t_sim)
    ev = mm.events
    order = np.lexsort((ev["times"], ev["senders"]))
    v = np.asarray(ev["V_m"])[order].reshape(n, -1)
    return np.diff(v, axis=1) * 1e9 / 0.1      # pA: dV = I h / C_m while tau_m is infinite


def test_noise_generator_statistics_match_nest(run_both):
    """Mean and variance of the current, its hold time dt, and independence between targets."""
    params = {"mean": 50.0, "std": 200.0, "dt": 0.5}
    theirs, mine = run_both(_noise_currents, params)
    for I in (theirs, mine):
        active = I[:, 20:]                              # after the first delay
        # piecewise constant over dt = 5 steps
        assert np.mean(np.abs(np.diff(active, axis=1)) < 1e-6) > 0.75   # dV / h recovers I to ~1e-11 pA
    a, b = theirs[:, 20:], mine[:, 20:]
    n_ind = a.size / 5                                  # independent draws
    se_mean = 200.0 / np.sqrt(n_ind)
    assert abs(a.mean() - 50.0) < 4 * se_mean and abs(b.mean() - 50.0) < 4 * se_mean
    assert abs(b.std() - a.std()) < 4 * 200.0 * np.sqrt(2.0 / n_ind)
    assert abs(b.std() - 200.0) < 4 * 200.0 * np.sqrt(2.0 / n_ind)
    corr = np.corrcoef(b[:50, ::5])
    assert np.max(np.abs(corr[np.triu_indices(50, 1)])) < 0.3   # a draw per target
    # the dt grid: NEST draws at the first active step and every dt after; changes at the same steps
    change_a = np.flatnonzero(np.any(np.abs(np.diff(a, axis=1)) > 1e-6, axis=0))
    change_b = np.flatnonzero(np.any(np.abs(np.diff(b, axis=1)) > 1e-6, axis=0))
    assert np.array_equal(change_a, change_b)


def test_noise_generator_std_mod_matches_nest(run_both):
    """With std_mod the variance follows std^2 + std_mod^2 sin(omega t + phi), as NEST's."""
    params = {"mean": 0.0, "std": 100.0, "std_mod": 90.0, "frequency": 10.0, "phase": 30.0, "dt": 0.1}
    theirs, mine = run_both(_noise_currents, params, 400, 300.0)
    t = (np.arange(theirs.shape[1]) + 1) * 0.1
    bins = (t // 12.5).astype(int)
    for I in (theirs, mine):
        var = np.array([I[:, bins == k].var() for k in range(bins.max())])
        assert var.max() > 2.5 * var.min()
    va = np.array([theirs[:, bins == k].var() for k in range(bins.max())])
    vb = np.array([mine[:, bins == k].var() for k in range(bins.max())])
    se = np.sqrt(2.0 / (400 * 125)) * va
    assert np.all(np.abs(vb - va) < 5 * se + 1e-9 * va)


def _sinusoidal_counts(nest, individual, n=200, t_sim=1000.0):
    nest.resolution = 0.1
    nest.rng_seed = 5
    nest.SetDefaults("sinusoidal_poisson_generator", {"individual_spike_trains": individual})
    g = nest.Create("sinusoidal_poisson_generator",
                    params={"rate": 100.0, "amplitude": 80.0, "frequency": 10.0, "phase": 90.0})
    p = nest.Create("parrot_neuron", n)
    sr = nest.Create("spike_recorder")
    nest.Connect(g, p)
    nest.Connect(p, sr)
    nest.Simulate(t_sim)
    ev = sr.events
    return np.asarray(ev["senders"]), np.asarray(ev["times"])


@pytest.mark.parametrize("individual", [True, False])
def test_sinusoidal_poisson_generator_matches_nest(run_both, individual):
    n, t_sim = (200, 1000.0) if individual else (20, 10000.0)     # a shared train is one train: run longer
    theirs, mine = run_both(_sinusoidal_counts, individual, n, t_sim)
    rates = []
    for senders, times in (theirs, mine):
        assert times.min() > 1.0                           # parrots repeat after the 1 ms delay
        phase = ((times - 1.0) % 100.0) // 10.0            # 10 bins per 100 ms period
        h = np.bincount(phase.astype(int), minlength=10) / (n * t_sim / 10 * 1e-3)
        rates.append(h)
        same = [np.array_equal(times[senders == senders.min()], times[senders == s]) for s in np.unique(senders)[:5]]
        assert all(same) != individual                     # shared train: identical for every parrot
    a, b = rates
    # mean rate 100 Hz, modulation 80 Hz: NEST's and ours agree per phase bin
    expected_sd = np.sqrt(a / (n * t_sim / 10 * 1e-3)) * (1 if individual else np.sqrt(n))
    assert np.all(np.abs(a - b) < 5 * np.sqrt(2) * expected_sd + 1.0)
    n_trains = n if individual else 1
    se_mean = np.sqrt(100.0 / (n_trains * t_sim * 1e-3))
    for r in (a, b):
        assert abs(r.mean() - 100.0) < 4 * se_mean and r.max() - r.min() > 100.0


def test_individual_spike_trains_only_as_default(nest_ours):
    nest = nest_ours
    with pytest.raises(ValueError, match="individual_spike_trains"):
        nest.Create("sinusoidal_poisson_generator", params={"individual_spike_trains": False})


def _repeated(nest, with_neuron):
    """NEST's repeated_stimulation.py: a poisson_generator recorded directly, its origin moved per trial."""
    nest.rng_seed = 3
    pg = nest.Create("poisson_generator", params={"rate": 1000.0, "start": 100.0, "stop": 500.0})
    sr = nest.Create("spike_recorder")
    nest.Connect(pg, sr)
    if with_neuron:
        n = nest.Create("iaf_psc_alpha")
        nest.Connect(pg, n, syn_spec={"weight": 10.0})
    for _ in range(4):
        pg.origin = nest.biological_time
        nest.Simulate(1000.0)
    return sr.events["senders"], sr.events["times"], sr.n_events


@pytest.mark.parametrize("with_neuron", [False, True])
def test_poisson_generator_recorded_directly(run_both, with_neuron):
    """The recorder records a train of its own: stamps in (origin + start, origin + stop], sender the
    generator, about rate * 400 ms spikes per trial."""
    (s_a, t_a, n_a), (s_b, t_b, n_b) = run_both(_repeated, with_neuron)
    assert np.array_equal(np.unique(s_a), np.unique(s_b)) and n_b == t_b.size
    for t in (t_a, t_b):
        trial, within = np.divmod(t, 1000.0)
        assert within.min() > 100.0 and within.max() <= 500.0 + 1e-9
        counts = np.bincount(trial.astype(int), minlength=4)
        assert np.all(np.abs(counts - 400.0) < 5 * np.sqrt(400.0))
    # the step grid: stamps 100.1 .. 500.0 ms after each origin are all possible, as in NEST
    assert np.all(np.isin(np.round(t_b * 10).astype(int), np.round(np.arange(1, 40001) * 1.0).astype(int)))


def _pulses(nest):
    nest.rng_seed = 7
    pp = nest.Create("pulsepacket_generator", params={"pulse_times": [50.0, 120.0, 200.0], "activity": 300,
                                                     "sdev": 4.0})
    p = nest.Create("parrot_neuron", 3)
    sr = nest.Create("spike_recorder")
    nest.Connect(pp, p, syn_spec={"delay": 1.0})
    nest.Connect(p, sr)
    nest.Simulate(300.0)
    return np.asarray(sr.events["senders"]), np.asarray(sr.events["times"])


def test_pulsepacket_generator_matches_nest(run_both):
    """activity spikes per pulse, normal around the pulse time with sdev, the same train for every target.
    Spikes in one step arrive as one event of that multiplicity, which the parrot repeats; NEST's recorder
    lists such a spike once per multiplicity, this layer's once (a known difference of the parrot's
    recording), so the steps that hold spikes are compared."""
    theirs, mine = run_both(_pulses)
    stats = []
    for senders, times in (theirs, mine):
        trains = [np.sort(times[senders == s]) for s in np.unique(senders)]
        assert len(trains) == 3 and all(np.array_equal(trains[0], t) for t in trains)
        t = np.unique(trains[0]) - 1.0                        # the parrots' delay
        per_pulse = []
        for pulse in (50.0, 120.0, 200.0):
            near = t[np.abs(t - pulse) < 40.0]
            assert abs(near.mean() - pulse) < 1.0
            per_pulse.append((near.size, near.std()))
        assert t.size == sum(n for n, _ in per_pulse)         # nothing between the pulses
        stats.append(np.array(per_pulse))
    a, b = stats
    # steps holding spikes and their spread: 300 normal draws of sd 40 steps fill about 125 steps
    assert np.all(np.abs(a[:, 0] - b[:, 0]) < 25) and np.all(np.abs(a[:, 1] - b[:, 1]) < 0.8)
