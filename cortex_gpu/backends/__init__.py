"""Backends: the same step protocol over the same layout arrays (cpu: Numba; cuda: CuPy)."""
from __future__ import annotations

__all__ = ["available_backends", "resolve_backend", "cuda_available", "CUDA_BACKEND_BUILT"]

#: Whether the CUDA backend is implemented (iaf_psc_exp, iaf_psc_alpha, parrot_neuron; static and
#: stdp_pl_synapse_hom synapses on one rank, static synapses on many; see backends/cuda.py);
#: ``auto`` picks it when CuPy sees a GPU.
CUDA_BACKEND_BUILT = True


def cuda_available() -> tuple[bool, str]:
    """(usable, reason): whether CuPy is installed and sees a CUDA device."""
    try:
        import cupy  # noqa: F401
    except Exception as exc:  # ImportError, or a broken CUDA install
        return False, f"CuPy is not importable ({type(exc).__name__}: {exc})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"CuPy sees no CUDA device ({exc})"
    return (n > 0), ("" if n > 0 else "CuPy sees no CUDA device")


def available_backends() -> list[str]:
    return ["cpu"] + (["cuda"] if CUDA_BACKEND_BUILT and cuda_available()[0] else [])


def resolve_backend(name: str) -> str:
    """'auto' -> 'cuda' when usable, else 'cpu'; 'cuda' without a GPU raises, saying why."""
    if name == "auto":
        return "cuda" if CUDA_BACKEND_BUILT and cuda_available()[0] else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        ok, why = cuda_available()
        if not ok:
            raise RuntimeError(f"backend 'cuda' needs a usable GPU: {why}")
        if not CUDA_BACKEND_BUILT:
            raise NotImplementedError("the cuda backend is not built; use --backend cpu")
        return "cuda"
    raise ValueError(f"unknown backend '{name}' (known: auto, cpu, cuda)")
