"""Connection rules: exact counts, statistics of the keyed draws, value distributions, delay rounding.

Every draw is keyed by the seed, so each statistical test here is deterministic;
the significance levels only decide whether the fixed sample looks like the
distribution it should follow (a biased rule fails them by a wide margin).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from cortex_gpu.build import build_local
from cortex_gpu.distributions import Lognormal, Normal, Redraw, Uniform
from cortex_gpu.engine import Simulation
from cortex_gpu.models import ModelError
from cortex_gpu.network import Network
from cortex_gpu.partition import make_partition

ALPHA = 1e-4  # p-value below which a fixed-seed sample is taken as wrong


def _conns(net: Network, seed: int = 7, weight_dtype: str = "float64") -> dict[str, np.ndarray]:
    return Simulation(net, seed=seed, weight_dtype=weight_dtype).connections()


def _proj_mask(c, pre, post) -> np.ndarray:
    return np.isin(c["source"], pre.gids) & np.isin(c["target"], post.gids)


def _chi2_binned(observed_values: np.ndarray, pmf: np.ndarray, min_expected: float = 5.0) -> float:
    """Chi-square GOF p-value of integer samples against ``pmf`` over 0..len(pmf)-1, tail-merged."""
    n = observed_values.size
    counts = np.bincount(observed_values, minlength=pmf.size).astype(float)
    tail_obs = counts[pmf.size:].sum()
    counts = counts[:pmf.size]
    counts[-1] += tail_obs
    expected = pmf * n
    expected[-1] += max(n - expected.sum(), 0.0)
    # merge sparse bins from both ends into their neighbours
    obs, exp = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(counts, expected):
        acc_o += o
        acc_e += e
        if acc_e >= min_expected:
            obs.append(acc_o)
            exp.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0:
        obs[-1] += acc_o
        exp[-1] += acc_e
    obs, exp = np.array(obs), np.array(exp)
    exp *= obs.sum() / exp.sum()
    return stats.chisquare(obs, exp).pvalue


# ------------------------------------------------------------ fixed_indegree
def test_fixed_indegree_exact_counts_and_uniform_pre():
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", 50)
    post = net.add_population("iaf_psc_exp", 200)
    K = 20
    net.connect(pre, post, "fixed_indegree", indegree=K, weight=1.0, delay=1.0)
    c = _conns(net)
    assert c["source"].size == K * post.n
    assert np.all(np.bincount(c["target"] - post.first, minlength=post.n) == K)
    assert np.all(np.isin(c["source"], pre.gids))
    # pre choice uniform: source ids pooled across posts
    counts = np.bincount(c["source"] - pre.first, minlength=pre.n)
    assert stats.chisquare(counts).pvalue > ALPHA
    # and not the same draw for every post
    per_post = {tuple(np.sort(c["source"][c["target"] == g])) for g in post.gids}
    assert len(per_post) > post.n // 2


def test_fixed_indegree_multapses_off_no_repeats():
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", 30)
    post = net.add_population("iaf_psc_exp", 100)
    K = 25  # close to n_pre: repeats would be frequent with replacement
    net.connect(pre, post, "fixed_indegree", indegree=K, allow_multapses=False, delay=1.0)
    c = _conns(net)
    assert np.all(np.bincount(c["target"] - post.first, minlength=post.n) == K)
    pairs = c["source"] * 100000 + c["target"]
    assert np.unique(pairs).size == pairs.size
    counts = np.bincount(c["source"] - pre.first, minlength=pre.n)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_fixed_indegree_multapses_on_do_repeat():
    # with replacement, 25 draws out of 30 repeat with probability ~1
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", 30)
    post = net.add_population("iaf_psc_exp", 50)
    net.connect(pre, post, "fixed_indegree", indegree=25, allow_multapses=True, delay=1.0)
    c = _conns(net)
    pairs = c["source"] * 100000 + c["target"]
    assert np.unique(pairs).size < pairs.size


@pytest.mark.parametrize("multapses", [True, False])
def test_fixed_indegree_no_autapses(multapses):
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 40)
    K = 39 if not multapses else 60
    net.connect(pop, pop, "fixed_indegree", indegree=K, allow_autapses=False,
                allow_multapses=multapses, delay=1.0)
    c = _conns(net)
    assert not np.any(c["source"] == c["target"])
    assert np.all(np.bincount(c["target"] - pop.first, minlength=pop.n) == K)
    if not multapses:  # K = n - 1 without repeats: every other neuron exactly once
        pairs = c["source"] * 100000 + c["target"]
        assert np.unique(pairs).size == pairs.size == pop.n * (pop.n - 1)


def test_fixed_indegree_autapses_allowed_do_occur():
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 20)
    net.connect(pop, pop, "fixed_indegree", indegree=20, allow_autapses=True, delay=1.0)
    c = _conns(net)
    assert np.any(c["source"] == c["target"])


def test_fixed_indegree_too_large_raises_naming_projection_and_value():
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", 50)
    post = net.add_population("iaf_psc_exp", 10)
    with pytest.raises(ModelError, match=r"E->I.*indegree 51\b"):
        net.connect(pre, post, "fixed_indegree", indegree=51, allow_multapses=False, label="E->I")
    with pytest.raises(ModelError, match=r"Connect #0.*fixed_indegree.*indegree 77\b"):
        net.connect(pre, post, "fixed_indegree", indegree=77, allow_multapses=False)
    # self-projection without autapses: only n - 1 sources available
    with pytest.raises(ModelError, match=r"indegree 50\b"):
        net.connect(pre, pre, "fixed_indegree", indegree=50, allow_multapses=False, allow_autapses=False)
    assert net.projections == []
    # with multapses any indegree is fine
    net.connect(pre, post, "fixed_indegree", indegree=51, allow_multapses=True)


# ------------------------------------------------------- fixed_total_number
def _ftn_net(N=5000, n_pre=40, n_post=100):
    net = Network(0.1)
    # explicit V_m: multi-rank builds with the default V_m (= E_L) crash, see
    # test_build_partition.py::test_multi_rank_build_with_default_initial_state
    v0 = {"V_m": -70.0}
    pre = net.add_population("iaf_psc_exp", n_pre, v0)
    post = net.add_population("iaf_psc_exp", n_post, v0)
    net.connect(pre, post, "fixed_total_number", N=N, weight=Normal(2.0, 0.5),
                delay=Redraw(Normal(1.5, 0.5), low=0.1))
    return net, pre, post


def test_fixed_total_number_exact_total_and_multinomial_counts():
    N, n_post = 5000, 100
    net, pre, post = _ftn_net(N, 40, n_post)
    c = _conns(net, seed=11)
    assert c["source"].size == N
    counts = np.bincount(c["target"] - post.first, minlength=n_post)
    assert counts.sum() == N
    # marginal of Multinomial(N, 1/n) is Binomial(N, 1/n)
    pmf = stats.binom.pmf(np.arange(0, 120), N, 1.0 / n_post)
    assert _chi2_binned(counts, pmf, min_expected=3.0) > ALPHA
    # dispersion: sum (c - N/n)^2 / (N/n) ~ chi2(n - 1) for a multinomial
    mean = N / n_post
    disp = np.sum((counts - mean) ** 2) / mean
    p_two_sided = 2 * min(stats.chi2.cdf(disp, n_post - 1), stats.chi2.sf(disp, n_post - 1))
    assert p_two_sided > ALPHA, disp
    # pre choice uniform
    assert stats.chisquare(np.bincount(c["source"] - pre.first, minlength=pre.n)).pvalue > ALPHA


def test_fixed_total_number_dispersion_over_seeds():
    # a constant split (N/n each) would pass the total and fail here: the counts must vary
    N, n_post = 300, 7
    net, _, post = _ftn_net(N, 10, n_post)
    var = []
    for seed in range(20):
        c = _conns(net, seed=seed)
        counts = np.bincount(c["target"] - post.first, minlength=n_post)
        assert counts.sum() == N
        var.append(counts.var(ddof=1))
    expected = N / n_post * (1 - 1 / n_post)
    assert 0.6 * expected < np.mean(var) < 1.4 * expected


@pytest.mark.parametrize("strategy", ["round_robin", "contiguous"])
def test_fixed_total_number_total_exact_over_partitions(strategy):
    N, n_post = 4321, 150
    net, _, post = _ftn_net(N, 40, n_post)
    ref = None
    for n_ranks in (1, 2, 4):
        part = make_partition(net, n_ranks, strategy, tile_size=16)
        targets = []
        for rank in range(n_ranks):
            g = build_local(net, part, rank, seed=5)
            targets.append(g.layout.synapses(g.neurons.gids)["target"])
        t = np.concatenate(targets)
        assert t.size == N, (n_ranks, t.size)
        counts = np.bincount(t - post.first, minlength=n_post)
        if ref is None:
            ref = counts
        np.testing.assert_array_equal(counts, ref)


# --------------------------------------------------------- pairwise_bernoulli
def test_pairwise_bernoulli_binomial_counts():
    n_pre, n_post, p = 200, 400, 0.1
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", n_pre)
    post = net.add_population("iaf_psc_exp", n_post)
    net.connect(pre, post, "pairwise_bernoulli", p=p, delay=1.0)
    c = _conns(net, seed=3)
    pairs = c["source"] * 100000 + c["target"]
    assert np.unique(pairs).size == pairs.size  # at most one synapse per pair
    counts = np.bincount(c["target"] - post.first, minlength=n_post)
    assert _chi2_binned(counts, stats.binom.pmf(np.arange(n_pre + 1), n_pre, p)) > ALPHA
    # each pre's out-degree ~ Binomial(n_post, p): uniform over pre
    out = np.bincount(c["source"] - pre.first, minlength=n_pre)
    assert _chi2_binned(out, stats.binom.pmf(np.arange(n_post + 1), n_post, p)) > ALPHA
    # total ~ Binomial(n_pre * n_post, p)
    total = n_pre * n_post
    assert abs(c["source"].size - total * p) < 5 * np.sqrt(total * p * (1 - p))


def test_pairwise_bernoulli_small_p_and_position_uniform():
    # the position of successes inside the pre list must be uniform (geometric gaps)
    n_pre, n_post, p = 1000, 300, 0.02
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", n_pre)
    post = net.add_population("iaf_psc_exp", n_post)
    net.connect(pre, post, "pairwise_bernoulli", p=p, delay=1.0)
    c = _conns(net, seed=4)
    counts = np.bincount(c["target"] - post.first, minlength=n_post)
    assert _chi2_binned(counts, stats.binom.pmf(np.arange(n_pre + 1), n_pre, p)) > ALPHA
    decile = np.bincount((c["source"] - pre.first) * 10 // n_pre, minlength=10)
    assert stats.chisquare(decile).pvalue > ALPHA


@pytest.mark.parametrize("autapses", [True, False])
def test_pairwise_bernoulli_p0_p1(autapses):
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 30)
    other = net.add_population("iaf_psc_exp", 20)
    net.connect(pop, pop, "pairwise_bernoulli", p=0.0, allow_autapses=autapses)
    net.connect(pop, other, "pairwise_bernoulli", p=0.0)
    c = _conns(net)
    assert c["source"].size == 0

    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 30)
    other = net.add_population("iaf_psc_exp", 20)
    net.connect(pop, pop, "pairwise_bernoulli", p=1.0, allow_autapses=autapses)
    net.connect(pop, other, "pairwise_bernoulli", p=1.0, allow_autapses=autapses)
    c = _conns(net)
    got = set(zip(c["source"].tolist(), c["target"].tolist()))
    want = {(i, j) for i in pop.gids.tolist() for j in pop.gids.tolist() if autapses or i != j}
    want |= {(i, j) for i in pop.gids.tolist() for j in other.gids.tolist()}
    assert c["source"].size == len(want)
    assert got == want


def test_pairwise_bernoulli_no_autapses():
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 100)
    net.connect(pop, pop, "pairwise_bernoulli", p=0.5, allow_autapses=False)
    c = _conns(net)
    assert c["source"].size > 0
    assert not np.any(c["source"] == c["target"])


# ------------------------------------------------------ all_to_all, one_to_one
@pytest.mark.parametrize("autapses", [True, False])
def test_all_to_all_exact(autapses):
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 13)
    b = net.add_population("iaf_psc_alpha", 7)
    net.connect(a, a, "all_to_all", allow_autapses=autapses, weight=2.0, delay=1.5)
    net.connect(a, b, "all_to_all", weight=-3.0, delay=0.7)
    c = _conns(net)
    got = sorted(zip(c["source"].tolist(), c["target"].tolist(), c["weight"].tolist(),
                     np.round(c["delay"], 9).tolist()))
    want = sorted([(i, j, 2.0, 1.5) for i in a.gids.tolist() for j in a.gids.tolist() if autapses or i != j]
                  + [(i, j, -3.0, 0.7) for i in a.gids.tolist() for j in b.gids.tolist()])
    assert got == want


def test_all_to_all_array_weights_and_delays():
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 4)
    b = net.add_population("iaf_psc_exp", 3)
    W = np.arange(12, dtype=float).reshape(3, 4) + 0.25   # (post, pre)
    D = (np.arange(12).reshape(3, 4) % 5 + 1) * 0.1
    net.connect(a, b, "all_to_all", weight=W, delay=D)
    c = _conns(net)
    assert c["source"].size == 12
    for s, t, w, d in zip(c["source"], c["target"], c["weight"], c["delay"]):
        i, j = t - b.first, s - a.first
        assert w == W[i, j]
        assert d == pytest.approx(D[i, j])


def test_all_to_all_unsorted_ids_keep_array_values_aligned():
    net = Network(0.1)
    net.add_population("iaf_psc_exp", 5)
    pre = np.array([2, 0, 1])
    post = np.array([4, 3])
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    D = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    net.connect(pre, post, "all_to_all", weight=W, delay=D)
    c = _conns(net)
    got = {(s, t): w for s, t, w in zip(c["source"].tolist(), c["target"].tolist(), c["weight"].tolist())}
    want = {(int(pre[j]), int(post[i])): W[i, j] for i in range(2) for j in range(3)}
    assert got == want
    got_d = {(s, t): round(d, 9) for s, t, d in zip(c["source"].tolist(), c["target"].tolist(),
                                                    c["delay"].tolist())}
    assert got_d == {(int(pre[j]), int(post[i])): D[i, j] for i in range(2) for j in range(3)}


def test_one_to_one_explicit_arrays_round_trip():
    net = Network(0.1)
    src = net.add_population("iaf_psc_exp", 10)
    dst = net.add_population("iaf_psc_exp", 10)
    rng = np.random.default_rng(0)
    pre = rng.permutation(src.gids)
    post = rng.permutation(dst.gids)
    w = rng.normal(0, 10, size=10)
    d = rng.integers(1, 40, size=10) * 0.1
    net.connect(pre, post, "one_to_one", weight=w, delay=d)
    # repeated post and pre in a second projection, as explicit pairs
    pre2 = np.array([src.first, src.first, src.first + 3, dst.first])
    post2 = np.array([dst.first + 5, dst.first + 5, src.first, src.first])
    w2 = np.array([1.5, -2.5, 3.5, 4.5])
    d2 = np.array([0.1, 0.2, 0.3, 0.4])
    net.connect(pre2, post2, "one_to_one", weight=w2, delay=d2)
    for dtype in ("float64", "float32"):
        c = _conns(net, weight_dtype=dtype)
        got = sorted(zip(c["source"].tolist(), c["target"].tolist(), c["weight"].tolist(),
                         np.round(c["delay"] / 0.1).astype(int).tolist()))
        cast = (lambda x: float(np.float32(x))) if dtype == "float32" else float
        want = sorted([(int(a), int(b), cast(x), int(round(y / 0.1)))
                       for a, b, x, y in zip(np.r_[pre, pre2], np.r_[post, post2], np.r_[w, w2], np.r_[d, d2])])
        assert got == want


def test_one_to_one_populations():
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 25)
    b = net.add_population("iaf_psc_exp", 25)
    net.connect(a, b, "one_to_one", weight=Uniform(1.0, 2.0), delay=1.0)
    c = _conns(net)
    np.testing.assert_array_equal(np.sort(c["target"] - c["source"]), np.full(25, 25))
    assert np.unique(c["target"]).size == 25
    assert np.all((c["weight"] >= 1.0) & (c["weight"] <= 2.0))


# ---------------------------------------------------------- value distributions
def _weights(dist, n_post=500, K=40, seed=21):
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", 100)
    post = net.add_population("iaf_psc_exp", n_post)
    net.connect(pre, post, "fixed_indegree", indegree=K, weight=dist, delay=1.0)
    return _conns(net, seed=seed)["weight"]


def test_weight_normal_ks():
    w = _weights(Normal(5.0, 2.0))
    assert stats.kstest(w, stats.norm(5.0, 2.0).cdf).pvalue > ALPHA
    assert w.mean() == pytest.approx(5.0, abs=0.05)


def test_weight_uniform_ks():
    w = _weights(Uniform(-1.0, 3.0))
    assert w.min() >= -1.0 and w.max() <= 3.0
    assert stats.kstest(w, stats.uniform(-1.0, 4.0).cdf).pvalue > ALPHA


def test_weight_lognormal_ks():
    w = _weights(Lognormal(0.5, 0.4))
    assert w.min() > 0
    assert stats.kstest(w, stats.lognorm(s=0.4, scale=np.exp(0.5)).cdf).pvalue > ALPHA


def test_weight_redraw_truncated_normal_ks():
    mu, sd, lo, hi = 1.0, 2.0, 0.0, 3.0
    w = _weights(Redraw(Normal(mu, sd), low=lo, high=hi))
    assert w.min() >= lo and w.max() <= hi
    tn = stats.truncnorm((lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
    assert stats.kstest(w, tn.cdf).pvalue > ALPHA
    # a one-sided bound, as for inhibitory weights
    w = _weights(Redraw(Normal(-4.0, 3.0), high=0.0), seed=22)
    assert w.max() <= 0.0
    tn = stats.truncnorm(-np.inf, (0.0 + 4.0) / 3.0, loc=-4.0, scale=3.0)
    assert stats.kstest(w, tn.cdf).pvalue > ALPHA


def test_weight_and_delay_draws_independent_of_each_other():
    net = Network(0.1)
    pre = net.add_population("iaf_psc_exp", 100)
    post = net.add_population("iaf_psc_exp", 300)
    net.connect(pre, post, "fixed_indegree", indegree=30, weight=Uniform(0.0, 1.0),
                delay=Uniform(0.1, 5.0))
    c = _conns(net, seed=9)
    r, p = stats.spearmanr(c["weight"], c["delay"])
    assert p > ALPHA, r


def test_delay_distribution_rounded_to_grid():
    h, mu, sd, lo = 0.1, 1.5, 0.4, 0.3
    net = Network(h)
    pre = net.add_population("iaf_psc_exp", 100)
    post = net.add_population("iaf_psc_exp", 500)
    net.connect(pre, post, "fixed_indegree", indegree=40, delay=Redraw(Normal(mu, sd), low=lo))
    c = _conns(net, seed=13)
    steps = np.round(c["delay"] / h).astype(int)
    np.testing.assert_allclose(c["delay"], steps * h, rtol=0, atol=1e-12)
    assert steps.min() >= 3
    # P(step k) = P((k - 1/2) h <= x < (k + 1/2) h) under the truncated normal
    tn = stats.truncnorm((lo - mu) / sd, np.inf, loc=mu, scale=sd)
    ks = np.arange(3, steps.max() + 2)
    pmf = tn.cdf((ks + 0.5) * h) - tn.cdf(np.maximum((ks - 0.5) * h, lo))
    pmf_full = np.zeros(ks.max() + 1)
    pmf_full[ks] = pmf
    assert _chi2_binned(steps, pmf_full / pmf_full.sum()) > ALPHA


def test_delays_spanning_more_than_256_steps():
    """Delays 1..800 steps apart in one network (the build's 32-bit sort keys) keep their values and law."""
    h = 0.1
    net = Network(h)
    pre = net.add_population("iaf_psc_exp", 100)
    post = net.add_population("iaf_psc_exp", 400)
    net.connect(pre, post, "fixed_indegree", indegree=40, weight=1.0, delay=Uniform(0.1, 5.0))
    net.connect(pre, post, "fixed_indegree", indegree=5, weight=2.0, delay=80.0)
    c = _conns(net, seed=21)
    steps = np.round(c["delay"] / h).astype(int)
    far = c["weight"] == 2.0
    assert np.all(steps[far] == 800) and far.sum() == 400 * 5
    near = steps[~far]
    assert near.min() >= 1 and near.max() <= 50
    # rounding Uniform(0.1, 5.0) to the grid: steps 2..49 get h each, 1 and 50 get h/2
    pmf = np.zeros(51)
    pmf[2:50] = h
    pmf[[1, 50]] = h / 2
    assert _chi2_binned(near, pmf / pmf.sum()) > ALPHA


# ------------------------------------------------------- delay rounding vs NEST
DELAYS_MS = [0.05, 0.06, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.0, 1.05, 1.45, 1.55,
             0.1, 0.1000000001, 0.3, 0.7, 2.05, 2.35, 3.15, 4.45, 7.75, 10.05,
             0.04, 0.049999999, 0.0499999999999, 0.02, 0.0, -0.1]


def _nest_delays(h: float) -> dict[float, float | None]:
    nest = pytest.importorskip("nest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nest.set_verbosity("M_ERROR")
    out = {}
    for d in DELAYS_MS:
        nest.ResetKernel()
        nest.resolution = h
        n = nest.Create("iaf_psc_exp", 2)
        try:
            nest.Connect(n[0], n[1], syn_spec={"delay": d})
        except Exception:  # NEST's BadDelay
            out[d] = None
            continue
        v = nest.GetConnections().get("delay")
        out[d] = float(v[0] if isinstance(v, (list, tuple)) else v)
    return out


@pytest.mark.nest
@pytest.mark.parametrize("h", [0.1, 0.2, 0.25, 0.05])
def test_delay_rounding_matches_nest(h):
    ref = _nest_delays(h)
    ok = [d for d in DELAYS_MS if ref[d] is not None]
    bad = [d for d in DELAYS_MS if ref[d] is None]
    assert ok and bad

    # scalar delays, one projection each, and the same values as a per-connection array
    net = Network(h)
    src = net.add_population("iaf_psc_exp", len(ok))
    dst = net.add_population("iaf_psc_exp", len(ok))
    for i, d in enumerate(ok):
        net.connect(src.gids[i:i + 1], dst.gids[i:i + 1], "one_to_one", delay=d, weight=1.0)
    net.connect(src, dst, "one_to_one", delay=np.array(ok), weight=2.0)
    # a distribution that always gives d (Uniform(d, d)) goes through the build-time rounding
    for i, d in enumerate(ok):
        net.connect(src.gids[i:i + 1], dst.gids[i:i + 1], "one_to_one", delay=Uniform(d, d), weight=3.0)
    c = _conns(net)
    for w in (1.0, 2.0, 3.0):
        sel = c["weight"] == w
        got = dict(zip((c["source"][sel] - src.first).tolist(), c["delay"][sel].tolist()))
        for i, d in enumerate(ok):
            assert got[i] == pytest.approx(ref[d], abs=1e-9), (h, d, w)
    # values NEST rejects are rejected by us at connect time, scalar and as a distribution
    for d in bad:
        with pytest.raises(ModelError, match="delay"):
            net.connect(src.gids[:1], dst.gids[:1], "one_to_one", delay=d)
        with pytest.raises(ModelError, match="delay"):
            net.connect(src.gids[:1], dst.gids[:1], "one_to_one", delay=np.array([d]))
        if d >= 0:
            with pytest.raises(ModelError, match="delay"):
                net.connect(src.gids[:1], dst.gids[:1], "one_to_one", delay=Uniform(d, d))


@pytest.mark.parametrize("dist, low, high", [(Normal(1.5, 0.75), 0.05, np.inf), (Normal(0.75, 0.375), 0.05, 2.0),
                                             (Uniform(0.3, 2.7), -np.inf, np.inf)])
def test_grid_cdf_is_the_law_of_the_rounded_value(dist, low, high):
    """grid_cdf's steps have the law of a value drawn from the bounded distribution, then rounded."""
    from cortex_gpu.distributions import Redraw, grid_cdf
    h = 0.1
    k0, cdf = grid_cdf(Redraw(dist, low, high).row(), h)
    if isinstance(dist, Normal):
        law = stats.truncnorm((low - dist.mean) / dist.std, (high - dist.mean) / dist.std,
                              loc=dist.mean, scale=dist.std)
    else:
        law = stats.uniform(dist.low, dist.high - dist.low)
    ks = k0 + np.arange(cdf.size)
    want = law.cdf((ks + 0.5) * h)      # P(step <= k) = P(x < (k + 1/2) h)
    np.testing.assert_allclose(cdf, want, atol=1e-12)
    assert cdf[-1] == 1.0 and np.all(np.diff(cdf) >= 0)
