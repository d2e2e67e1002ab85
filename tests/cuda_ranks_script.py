"""One rank of a many-rank run on the cuda backend, started by ``mpiexec -n N`` from the tests.

``python cuda_ranks_script.py OUT CASE [--emulator LIB] [--devices N] [--comm MODE] [--force-cuda-aware]
[--exchange E] [--no-overlap] [--runs T1,T2,...]``

Runs network ``CASE`` of ``cuda_cases.CASES`` (seed 11) on the cuda backend
with ``cortex_gpu.comm.world``; rank 0 writes ``OUT`` (.npz): every rank's
recorded spikes, final V_m (as int64 bits) and spike counts by gid, and per
rank the device, comm mode and note. ``--emulator`` puts the CPU emulation
of the kernels (tests/cuda_emulator) in place of CuPy, with ``--devices``
fake devices; without it the script needs a GPU. ``--force-cuda-aware``
makes the MPI library count as CUDA-aware: with the emulator, "device"
arrays are host memory, which a library without CUDA support reads as any
other, so the CUDA-aware code path runs end to end. With the emulator,
``launch_gaps`` lists, per exchange, the kernels that ran between posting
it and waiting for it: the overlap (I7).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("case")
    ap.add_argument("--emulator", type=Path)
    ap.add_argument("--devices", type=int, default=1)
    ap.add_argument("--comm", default="auto")
    ap.add_argument("--force-cuda-aware", action="store_true")
    ap.add_argument("--exchange", default="neighbour")
    ap.add_argument("--no-overlap", action="store_true")
    ap.add_argument("--runs", default="50")
    args = ap.parse_args()
    sys.path[:0] = [str(HERE), str(HERE / "cuda_emulator")]
    if args.emulator is not None:
        from fake_cupy import make_fake_cupy
        sys.modules["cupy"] = make_fake_cupy(args.emulator, n_devices=args.devices)
    from cortex_gpu import Simulation
    from cortex_gpu import comm as comm_mod
    from cuda_cases import CASES
    if args.force_cuda_aware:
        comm_mod.mpi_cuda_support = lambda MPI: (True, "forced by the test")
    comm = comm_mod.world(args.comm, args.exchange, backend="cuda")
    gaps = []            # emulator only: kernels run between posting an exchange and waiting for it
    if args.emulator is not None:
        env, start, wait, posted = sys.modules["cupy"]._env, comm.start, comm.wait, [None]

        def logged_start(send):
            posted[0] = env.launches
            start(send)

        def logged_wait():
            if posted[0] is not None:
                gaps.append(env.launches - posted[0])
                posted[0] = None
            return wait()

        comm.start, comm.wait = logged_start, logged_wait
    sim = Simulation(CASES[args.case](), seed=11, backend="cuda", comm=comm)
    sim.overlap = not args.no_overlap
    for t in (float(x) for x in args.runs.split(",")):
        sim.run(t)
    gids, steps = sim.all_spikes()
    import cupy
    mine = {"gids": gids, "steps": steps, "local": sim.local_gids, "V": sim.state("V_m").view(np.int64),
            "counts": sim.spike_counts(),
            "info": {"rank": comm.rank, "local_rank": comm.local_rank, "device": int(cupy.cuda.Device().id),
                     "note": sim.report.device, "mode": comm.mode, "mode_note": getattr(comm, "mode_note", ""),
                     "windows": int(sim.timings["windows"]), "window": int(sim._m),
                     "runner": type(sim._cuda).__name__,
                     "launch_gaps": gaps}}
    every = comm.allgather(mine)
    if comm.rank == 0:
        cat = lambda k: np.concatenate([r[k] for r in every])  # noqa: E731
        np.savez(args.out, gids=cat("gids"), steps=cat("steps"), local=cat("local"), V=cat("V"),
                 counts=cat("counts"), info=json.dumps([r["info"] for r in every]))


if __name__ == "__main__":
    main()
