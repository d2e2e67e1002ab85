"""GetStatus, GetDefaults, Create and nest.message in NEST 3.10's forms, each compared with NEST run here."""
from __future__ import annotations

import re

import pytest


def _comparable(d: dict) -> dict:
    """Status dict without NEST's internal bookkeeping (sizes, ids of its model table)."""
    return {k: v for k, v in d.items() if k not in ("sizeof", "synapse_id", "port", "target_thread")}


def test_getstatus_shapes_equal_nest_for_nodes_and_connections(run_both):
    def script(nest):
        n = nest.Create("iaf_psc_alpha", 3, params={"I_e": [1.0, 2.0, 3.0]})
        nest.Connect(n, n, "one_to_one", syn_spec={"weight": 2.5, "delay": 1.5})
        c = nest.GetConnections()
        one = nest.GetConnections(n[:1], n[:1])
        return {
            "nodes_key": nest.GetStatus(n, "I_e"),
            "nodes_keys": nest.GetStatus(n, ["I_e", "V_m"]),
            "node_key": nest.GetStatus(n[1], "I_e"),
            "node_keys": nest.GetStatus(n[1], ["I_e", "C_m"]),
            "conns_key": nest.GetStatus(c, "weight"),
            "conns_keys": nest.GetStatus(c, ["weight", "delay"]),
            "conn_key": nest.GetStatus(one, "weight"),
            "conn_keys": nest.GetStatus(one, ["weight", "delay"]),
            "conns_all": [_comparable(d) for d in nest.GetStatus(c)],
            "empty": nest.GetStatus(nest.GetConnections(n[:1], n[2:])),
        }

    theirs, mine = run_both(script)
    for key in theirs:
        if key == "conns_all":
            assert [sorted(d) for d in mine[key]] == [sorted(d) for d in theirs[key]]
            assert [{k: d[k] for k in ("source", "target", "weight", "delay")} for d in mine[key]] == \
                [{k: d[k] for k in ("source", "target", "weight", "delay")} for d in theirs[key]]
            continue
        assert type(mine[key]) is type(theirs[key]), key
        assert mine[key] == theirs[key], key


def test_create_with_a_dict_as_second_argument_as_nest(run_both):
    def script(nest):
        a = nest.Create("iaf_psc_alpha", {"I_e": 7.0, "C_m": 200.0})
        s = nest.Create("spike_recorder", {"start": 5.0})
        try:
            nest.Create("iaf_psc_alpha", {"I_e": 1.0}, {"I_e": 2.0})
            error = None
        except Exception as e:          # noqa: BLE001 - the class is what is compared
            error = type(e).__name__
        return len(a), a.get("I_e"), a.get("C_m"), len(s), s.get("start"), error

    theirs, mine = run_both(script)
    assert mine == theirs
    assert theirs[-1] == "ValueError"


def test_getdefaults_counts_connections_per_synapse_model(run_both):
    def script(nest):
        n = nest.Create("iaf_psc_alpha", 4)
        before = nest.GetDefaults("static_synapse")["num_connections"]
        nest.Connect(n[:3], n, "all_to_all")
        nest.CopyModel("static_synapse", "excitatory", {"weight": 3.0})
        nest.Connect(n[3:], n[1:], "all_to_all", syn_spec="excitatory")
        return (before, nest.GetDefaults("static_synapse")["num_connections"],
                nest.GetDefaults("excitatory", "num_connections"), nest.num_connections)

    theirs, mine = run_both(script)
    assert mine == theirs == (0, 12, 3, 15)


def test_unknown_keys_raise_keyerror_as_nest(run_both):
    def script(nest):
        errors = []
        for nodes in (nest.Create("iaf_psc_alpha"), nest.Create("spike_recorder"), nest.Create("parrot_neuron")):
            try:
                nodes.get("no_such_key")
            except Exception as e:      # noqa: BLE001 - the class is what is compared
                errors.append(isinstance(e, KeyError))
        return errors

    theirs, mine = run_both(script)
    assert mine == theirs == [True, True, True]


def test_ascii_recorders_count_events_but_keep_none_in_memory(run_both, tmp_path):
    def script(nest, path):
        nest.set(overwrite_files=True, data_path=str(path))
        n = nest.Create("iaf_psc_alpha", params={"I_e": 400.0})
        m = nest.Create("multimeter", params={"record_from": ["V_m"], "record_to": "ascii", "interval": 1.0})
        s = nest.Create("spike_recorder", params={"record_to": "ascii"})
        mem = nest.Create("spike_recorder")
        nest.Connect(m, n)
        nest.Connect(n, s + mem)
        nest.Simulate(100.0)
        missing = []
        for get in (lambda: m.get("events"), lambda: s.events, lambda: nest.GetStatus(s, "events")):
            try:
                get()
                missing.append(False)
            except KeyError:
                missing.append(True)
        return (m.n_events, s.n_events, missing, "events" in m.get(), "events" in s.get(),
                list(mem.get("events", "times")))

    theirs, mine = run_both(script, tmp_path)
    assert mine == theirs
    assert theirs[0] == 99 and theirs[1] == 3 and theirs[2] == [True, True, True]


def _messages(text: str) -> list[str]:
    """The log lines of ``nest.message`` with the time stamp and the caller's place masked."""
    return [re.sub(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( .*:\d+ @ \w+)?\]", "[stamp]", line)
            for line in text.splitlines() if line.startswith("[")]


def test_message_prints_as_nest_above_the_verbosity(nest_ours, capfd):
    nest = pytest.importorskip("nest")

    def script(module):
        module.verbosity = module.VerbosityLevel.INFO
        module.message("informing")
        module.message("warning", module.VerbosityLevel.WARNING)
        module.verbosity = module.VerbosityLevel.ERROR
        module.message("not shown", module.VerbosityLevel.WARNING)
        module.verbosity = module.VerbosityLevel.DEBUG
        module.message("with place")

    capfd.readouterr()
    script(nest)
    theirs = capfd.readouterr()
    script(nest_ours)
    mine = capfd.readouterr()
    nest.verbosity = nest.VerbosityLevel.ERROR
    # warnings and errors go to stderr, the rest to stdout
    assert _messages(mine.out) == _messages(theirs.out) == ["[INFO] [stamp] informing", "[INFO] [stamp] with place"]
    assert _messages(mine.err) == _messages(theirs.err) == ["[WARNING] [stamp] warning"]
    mine, theirs = mine.out, theirs.out
    assert re.search(r"test_status_vs_nest\.py:\d+ @ script\] with place", mine)
    assert re.search(r"test_status_vs_nest\.py:\d+ @ script\] with place", theirs)


def test_prepare_run_cleanup_states_raise_as_nest(run_both):
    def script(nest):
        nest.Create("iaf_psc_alpha", params={"I_e": 400.0})
        outcome = []
        for call in ("Run", "Cleanup", "Prepare", "Prepare", "Simulate", "Run", "Run", "Cleanup", "Cleanup", "Run",
                     "Simulate"):
            try:
                getattr(nest, call)() if call in ("Prepare", "Cleanup") else getattr(nest, call)(10.0)
                outcome.append((call, "ok"))
            except Exception as e:      # noqa: BLE001 - the class is what is compared
                outcome.append((call, type(e).__name__))
        return outcome, nest.biological_time, nest.GetKernelStatus("prepared")

    theirs, mine = run_both(script)
    assert mine == theirs
    assert ("Prepare", "KernelException") in theirs[0] and theirs[1] == 30.0


def test_bad_parameters_raise_nest_classes(run_both):
    def script(nest):
        n = nest.Create("iaf_psc_alpha", 2)
        calls = {
            "set unknown": lambda: n.set(foo=1.0),
            "Create unknown": lambda: nest.Create("iaf_psc_alpha", 3, {"V_mm": 3 * [-50.0]}),
            "Create short list": lambda: nest.Create("iaf_psc_alpha", 3, {"V_m": [-50.0]}),
            "Create empty tuple": lambda: nest.Create("iaf_psc_alpha", 3, ()),
            "Create dict list": lambda: nest.Create("iaf_psc_alpha", 3, [{}]),
            "SetDefaults unknown": lambda: nest.SetDefaults("iaf_psc_alpha", {"foo": 1.0}),
            "SetDefaults synapse unknown": lambda: nest.SetDefaults("static_synapse", {"foo": 1.0}),
            "CopyModel unknown": lambda: nest.CopyModel("static_synapse", "x", {"foo": 1.0}),
            "device unknown": lambda: nest.Create("spike_recorder", params={"foo": 1}),
        }
        out = {}
        for name, call in calls.items():
            try:
                call()
                out[name] = "ok"
            except Exception as e:      # noqa: BLE001 - the classes are what is compared
                out[name] = sorted(c.__name__ for c in type(e).__mro__ if c.__name__ in (
                    "UnaccessedDictionaryEntry", "TypeError", "IndexError", "KernelException"))
        return out

    theirs, mine = run_both(script)
    assert mine == theirs
