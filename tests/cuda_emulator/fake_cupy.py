"""A stand-in for the CuPy calls of ``cortex_gpu/backends/cuda.py`` that runs its kernels on the CPU.

:func:`make_fake_cupy` returns a module to put in ``sys.modules["cupy"]``.
Device arrays are NumPy arrays behind a small wrapper; a kernel launch checks
its arguments against the kernel's signature in the CUDA source (count,
array dtypes, scalar types: what a real launch would silently misread) and
calls the serial emulation of that kernel in ``emulator.cpp``; stream
capture records launches and a graph replays them, with the arguments
bound at capture as a real CUDA graph binds them; copies between host and
device are refused while a stream captures, as CUDA refuses them.
``RawModule`` assembles its options as CuPy 13 does (``--std=c++11``
appended unless an option names the standard) and refuses what NVRTC
refuses under that standard (hexadecimal float literals before C++17).

What this cannot show: the CUDA-only parts of the kernels (warp shuffles,
ballots, __match_any_sync, block scans, memory ordering), CuPy's own
behaviour and NVRTC. Those are for the tests marked ``gpu``.
"""
from __future__ import annotations

import ctypes
import re
import time
import types
from collections import Counter
from pathlib import Path

import numpy as np

from signatures import source_signatures, strip_comments

__all__ = ["make_fake_cupy", "FakeArray", "CompileException"]


class CompileException(RuntimeError):
    """What ``cupy.cuda.compiler.CompileException`` stands for: NVRTC refused the source."""

_CTYPES = {np.dtype(np.int32): ctypes.c_int32, np.dtype(np.int64): ctypes.c_int64,
           np.dtype(np.uint32): ctypes.c_uint32, np.dtype(np.float64): ctypes.c_double,
           np.dtype(np.float32): ctypes.c_float}


class FakeArray:
    """A device array: a NumPy array (slices are views, as CuPy's are)."""

    def __init__(self, host: np.ndarray, env):
        self._a = host
        self._env = env

    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    shape = property(lambda self: self._a.shape)
    nbytes = property(lambda self: self._a.nbytes)

    def __getitem__(self, key):
        return FakeArray(self._a[key], self._env)

    def set(self, arr, stream=None):
        self._env.no_capture("ndarray.set")
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if arr.shape != self.shape:
            raise ValueError("Shape mismatch")
        self._a[...] = arr

    def get(self, stream=None, out=None):
        self._env.no_capture("ndarray.get")
        if out is None:
            return self._a.copy()
        if not isinstance(out, np.ndarray) or out.dtype != self.dtype or out.shape != self.shape:
            raise ValueError("Shape, dtype or type mismatch of out")
        out[...] = self._a
        return out

    def sort(self):
        """In place, as ``cupy.ndarray.sort`` (the construction sorts distinct keys: stability cannot show)."""
        self._env.no_capture("ndarray.sort")
        self._a.sort()

    def min(self):
        return self._a.min()

    def max(self):
        return self._a.max()

    @property
    def __cuda_array_interface__(self) -> dict:
        """The device array interface (version 3) that mpi4py reads: here a host address, which a
        library without CUDA support (the tests' MPICH) reads as ordinary memory."""
        if not self._a.flags.c_contiguous:
            raise ValueError("only contiguous fake device arrays are exported")
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "data": (self._a.ctypes.data, False),
                "version": 3, "strides": None, "stream": None}


class _Env:
    """Shared state of one fake CuPy: the stream stack and the emulator library."""

    def __init__(self, emulator: Path, free_bytes: int, n_devices: int = 1):
        self.lib = ctypes.CDLL(str(emulator))
        self.free_bytes = free_bytes
        self.n_devices = n_devices
        self.device = 0          # the current device (Device(i).use())
        self.streams: list = []
        self.launches = 0
        self.launched: Counter[str] = Counter()   # launches run, per kernel name
        self.modules: list = []

    def current(self):
        return self.streams[-1] if self.streams else None

    def no_capture(self, what: str) -> None:
        if any(s.capturing is not None for s in self.streams):
            raise RuntimeError(f"{what} while a stream is capturing (cudaErrorStreamCaptureUnsupported)")


class _Kernel:
    def __init__(self, env: _Env, name: str, params):
        self.env, self.name, self.params = env, name, params
        fn = getattr(env.lib, name)
        fn.argtypes = [ctypes.c_int, ctypes.c_int] + [ctypes.c_void_p if p.pointer else _CTYPES[p.dtype]
                                                      for p in params]
        fn.restype = None
        self.fn = fn

    def __call__(self, grid, block, args, shared_mem=0):
        if len(grid) != 1 or len(block) != 1 or not 0 < block[0] <= 1024 or grid[0] < 1:
            raise ValueError(f"{self.name}: bad launch grid {grid} block {block}")
        if len(args) != len(self.params):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.params)} parameters")
        for p, a in zip(self.params, args):
            if p.pointer:
                if not isinstance(a, FakeArray) or a.dtype != p.dtype:
                    raise TypeError(f"{self.name}: parameter {p.name} ({p.ctype} *) got "
                                    f"{getattr(a, 'dtype', type(a).__name__)}")
            elif not isinstance(a, np.generic) or a.dtype != p.dtype:
                raise TypeError(f"{self.name}: parameter {p.name} ({p.ctype}) got {type(a).__name__} "
                                f"{getattr(a, 'dtype', '')}: CuPy would pass {np.asarray(a).dtype}")
        stream = self.env.current()
        if stream is not None and stream.capturing is not None:
            stream.capturing.append((self, grid, block, tuple(args)))
        else:
            self.run(grid, block, args)

    def run(self, grid, block, args):
        self.env.launches += 1
        self.env.launched[self.name] += 1
        conv = [a._a.ctypes.data if p.pointer else a.item() for p, a in zip(self.params, args)]
        self.fn(int(grid[0]), int(block[0]), *conv)


class _Graph:
    def __init__(self, launches):
        self.launches = launches

    def launch(self, stream=None):
        for k, grid, block, args in self.launches:
            k.run(grid, block, args)


def make_fake_cupy(emulator: Path, free_bytes: int = 80 << 30, n_sm: int = 4,
                   n_devices: int = 1) -> types.ModuleType:
    """A module with the CuPy names the CUDA backend uses, backed by the emulator library ``emulator``;
    ``n_devices`` devices, all the same CPU (for the rank-to-device mapping)."""
    env = _Env(emulator, free_bytes, n_devices)
    cp = types.ModuleType("cupy")
    cp.__version__ = "emulated"
    cp._env = env
    cp.ndarray = FakeArray
    cp.asarray = lambda a: a if isinstance(a, FakeArray) else FakeArray(np.array(a, copy=True), env)
    cp.zeros = lambda n, dtype=np.float64: FakeArray(np.zeros(n, dtype), env)

    def concatenate(parts):
        env.no_capture("cupy.concatenate")
        if not all(isinstance(p, FakeArray) for p in parts):
            raise TypeError("cupy.concatenate takes device arrays")
        return FakeArray(np.concatenate([p._a for p in parts]), env)

    cp.concatenate = concatenate

    def unique(a, return_counts=False):
        env.no_capture("cupy.unique")
        out = np.unique(a._a, return_counts=return_counts)
        return tuple(FakeArray(x, env) for x in out) if return_counts else FakeArray(out, env)

    cp.unique = unique
    cp.cumsum = lambda a: FakeArray(np.cumsum(a._a), env)

    class RawModule:
        """CuPy 13's RawModule: ``compile_with_cache`` appends ``--std=c++11`` unless an option names a
        standard (cupy/_core/core.pyx: assemble_cupy_compiler_options), and NVRTC then compiles."""

        def __init__(self, *, code: str, options=()):
            if not isinstance(options, tuple):
                raise TypeError("RawModule options must be a tuple (CuPy's compile cache keys on it)")
            std = [o for o in options if "-std=c++" in o]
            self.effective_options = options if std else options + ("--std=c++11",)
            level = int(re.search(r"-std=c\+\+(\d+)", (std or ["--std=c++11"])[-1]).group(1))
            hexfloat = re.search(r"\b0[xX][0-9a-fA-F]*\.?[0-9a-fA-F]*[pP][+-]?\d+", strip_comments(code))
            if hexfloat and level in (3, 11, 14):
                raise CompileException(f"(NVRTC, --std=c++{level:02d}) error: extra text after expected end of "
                                       f"number at '{hexfloat.group(0)}': hexadecimal float literals are C++17")
            self.code = code
            self.options = tuple(options)
            self.signatures = source_signatures(code)
            env.modules.append(self)

        def get_function(self, name: str):
            return _Kernel(env, name, self.signatures[name])

    class Stream:
        null = None

        def __init__(self, non_blocking: bool = False):
            self.non_blocking = non_blocking
            self.capturing = None

        def __enter__(self):
            env.streams.append(self)
            return self

        def __exit__(self, *exc):
            env.streams.pop()

        def begin_capture(self):
            if not self.non_blocking:
                raise RuntimeError("a blocking stream cannot capture")
            self.capturing = []

        def end_capture(self):
            g, self.capturing = _Graph(self.capturing), None
            return g

        def synchronize(self):
            if self.capturing is not None:
                raise RuntimeError("synchronize while capturing (cudaErrorStreamCaptureUnsupported)")

    class Event:
        t = 0.0

        def record(self, stream=None):
            self.t = time.perf_counter()   # the emulator runs synchronously: host time is kernel time

        def synchronize(self):
            pass

    class Device:
        attributes = {"MultiProcessorCount": n_sm}
        pci_bus_id = "0000:00:00.0"
        compute_capability = "emulated"

        def __init__(self, i: int | None = None):
            self.id = env.device if i is None else int(i)
            if not 0 <= self.id < env.n_devices:
                raise RuntimeError(f"cudaErrorInvalidDevice: device {self.id} of {env.n_devices}")

        def use(self):
            env.device = self.id

    cuda = types.ModuleType("cupy.cuda")
    cuda.Stream, cuda.Event, cuda.Device = Stream, Event, Device
    cuda.alloc_pinned_memory = lambda nbytes: bytearray(nbytes)     # np.frombuffer takes it as CuPy's
    cuda.get_elapsed_time = lambda a, b: (b.t - a.t) * 1e3
    props = {"name": b"CPU emulation", "totalGlobalMem": 2 * free_bytes, "multiProcessorCount": n_sm}
    cuda.runtime = types.SimpleNamespace(memGetInfo=lambda: (env.free_bytes, 2 * env.free_bytes),
                                         getDeviceCount=lambda: env.n_devices, getDeviceProperties=lambda i: props,
                                         driverGetVersion=lambda: 0, runtimeGetVersion=lambda: 0,
                                         deviceSynchronize=lambda: None)
    cp.cuda = cuda
    cp.RawModule = RawModule
    return cp
