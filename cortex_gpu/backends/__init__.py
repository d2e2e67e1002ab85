"""Backends: the same step protocol over the same layout arrays (cpu: Numba; cuda: CuPy)."""
from __future__ import annotations

__all__ = ["available_backends", "resolve_backend", "cuda_available", "CUDA_BACKEND_BUILT"]

#: Whether the CUDA backend is implemented; ``auto`` never picks it before.
CUDA_BACKEND_BUILT = False


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
        # only backends that exist: the CUDA backend is the next issue
        return "cuda" if CUDA_BACKEND_BUILT and cuda_available()[0] else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        ok, why = cuda_available()
        if not ok:
            raise RuntimeError(f"backend 'cuda' needs a usable GPU: {why}")
        raise NotImplementedError("the cuda backend is not built yet (CUDA backend issue); use --backend cpu")
    raise ValueError(f"unknown backend '{name}' (known: auto, cpu, cuda)")
