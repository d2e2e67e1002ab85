"""A stand-in for the CuPy calls of ``cortex_gpu/backends/cuda.py`` that runs its kernels on the CPU.

:func:`make_fake_cupy` returns a module to put in ``sys.modules["cupy"]``.
Device arrays are NumPy arrays behind a small wrapper; a kernel launch checks
its arguments against the kernel's signature in the CUDA source (count,
array dtypes, scalar types: what a real launch would silently misread) and
calls the serial emulation of that kernel in ``emulator.cpp``; stream
capture records launches and a graph replays them, with the arguments
bound at capture as a real CUDA graph binds them; copies between host and
device are refused while a stream captures, as CUDA refuses them.

Streams are modelled for their ordering, not their timing (everything runs
at once on the CPU): each stream keeps the device buffers its queued work
touched since it was last synchronised, and work on another stream that is
not ordered with it (a ``non_blocking`` stream is ordered with no other,
not even the legacy null stream) touching such a buffer raises, as would a
race on a GPU; so does handing a buffer with queued work to MPI (mpi4py
reads ``__cuda_array_interface__`` memory without waiting for any stream).
``RawModule`` assembles its options as CuPy 13 does (``--std=c++11``
appended unless an option names the standard) and refuses what NVRTC
refuses under that standard (hexadecimal float literals before C++17).

What this cannot show: the CUDA-only parts of the kernels (warp shuffles,
ballots, __match_any_sync, block scans, memory ordering), CuPy's own
behaviour beyond what is modelled above, and NVRTC itself. Those are for
the tests marked ``gpu``.
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


def _root(a: np.ndarray) -> np.ndarray:
    """The allocation a NumPy view belongs to (a device buffer's identity for the stream model)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


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
        """CuPy 13: an asynchronous copy on ``stream`` (default: the current stream)."""
        self._env.no_capture("ndarray.set")
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if arr.shape != self.shape:
            raise ValueError("Shape mismatch")
        if not self._a.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array")
        self._env.access(stream, (self,), "ndarray.set")
        self._a[...] = arr

    def get(self, stream=None, order="C", out=None, blocking=True):
        """CuPy 13: a copy on ``stream`` (default: the current stream), then, with ``blocking``, a wait
        for that stream (not for any other)."""
        self._env.no_capture("ndarray.get")
        if out is not None:
            if not isinstance(out, np.ndarray):
                raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
            if out.dtype != self.dtype:
                raise TypeError(f"{out.dtype} array cannot be obtained from {self.dtype} array")
            if out.shape != self.shape:
                raise ValueError(f"Shape mismatch. Expected shape: {self.shape}, actual shape: {out.shape}")
        s = self._env.stream_of(stream)
        self._env.access(s, (self,), "ndarray.get")
        if blocking:
            self._env.synchronize(s)
        if out is None:
            return self._a.copy()
        out[...] = self._a
        return out

    def sort(self):
        """In place, as ``cupy.ndarray.sort`` (the construction sorts distinct keys: stability cannot show)."""
        self._env.no_capture("ndarray.sort")
        if not self._a.flags.c_contiguous:
            raise NotImplementedError("Sorting non-contiguous array is not supported.")
        self._env.access(None, (self,), "ndarray.sort")
        self._a.sort()

    def _reduce(self, op):
        # CuPy returns a 0-d device array; the callers take int() of it, which waits for the current stream
        self._env.access(None, (self,), f"ndarray.{op}")
        self._env.synchronize(self._env.current())
        return getattr(self._a, op)()

    def min(self):
        return self._reduce("min")

    def max(self):
        return self._reduce("max")

    @property
    def __cuda_array_interface__(self) -> dict:
        """The device array interface (version 3) that mpi4py reads: here a host address, which a
        library without CUDA support (the tests' MPICH) reads as ordinary memory. mpi4py does not
        wait for the ``stream`` it names, so a buffer with unsynchronised work on a stream raises."""
        if not self._a.flags.c_contiguous:
            raise ValueError("only contiguous fake device arrays are exported")
        self._env.host_access((self,), "a device buffer handed to MPI (__cuda_array_interface__)")
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
        self.pool_free_bytes = 0  # bytes CuPy's memory pool caches free (memGetInfo counts them as used)
        self.null = None         # the legacy default stream (set by make_fake_cupy)
        self.pending: dict = {}  # stream -> {id(buffer): (buffer, op)}: buffers its unsynchronised work touched
        self.ops: Counter = Counter()    # operations queued per stream
        self.done: Counter = Counter()   # operations known finished per stream (synchronised)

    def current(self):
        return self.streams[-1] if self.streams else self.null

    def stream_of(self, stream):
        return self.current() if stream is None else stream

    def _ordered(self, a, b) -> bool:
        """Whether work on streams ``a`` and ``b`` is ordered without an explicit wait: the same stream,
        or the legacy null stream and a blocking stream (a non_blocking stream is ordered with neither)."""
        return a is b or (a is self.null and not b.non_blocking) or (b is self.null and not a.non_blocking)

    def access(self, stream, arrays, what: str) -> None:
        """Work on ``stream`` (None: the current one) touching ``arrays``: raise where another stream,
        not ordered with it, has unsynchronised work on one of them."""
        stream = self.stream_of(stream)
        roots = {id(r): r for r in (_root(a._a) for a in arrays if isinstance(a, FakeArray))}
        for other, pend in self.pending.items():
            if self._ordered(other, stream) or not pend.keys() & roots.keys():
                continue
            raise RuntimeError(f"{what} on {stream!r} touches device memory that {other!r} still has queued work "
                               "on, with nothing ordering the two streams: a race on a GPU (synchronise, or "
                               "use one stream)")
        self.ops[stream] += 1
        mine = self.pending.setdefault(stream, {})
        for k, r in roots.items():
            mine[k] = (r, self.ops[stream])

    def host_access(self, arrays, what: str) -> None:
        """Device memory read or written outside every stream (by MPI): no stream may have queued work on it."""
        roots = {id(_root(a._a)) for a in arrays}
        for other, pend in self.pending.items():
            if pend.keys() & roots:
                raise RuntimeError(f"{what} while {other!r} still has queued work on it: synchronise the "
                                   "stream before the MPI call")

    def synchronize(self, stream, upto: int | None = None) -> None:
        """The host waits for ``stream``'s work (up to operation ``upto``, an event's)."""
        upto = self.ops[stream] if upto is None else upto
        self.done[stream] = max(self.done[stream], upto)
        pend = self.pending.get(stream, {})
        for k in [k for k, (_, op) in pend.items() if op <= upto]:
            del pend[k]

    def synchronize_all(self) -> None:
        for s in list(self.pending):
            self.synchronize(s)

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
        if stream.capturing is not None:
            stream.capturing.append((self, grid, block, tuple(args)))
        else:
            self.env.access(stream, args, f"kernel {self.name}")
            self.run(grid, block, args)

    def run(self, grid, block, args):
        self.env.launches += 1
        self.env.launched[self.name] += 1
        conv = [a._a.ctypes.data if p.pointer else a.item() for p, a in zip(self.params, args)]
        self.fn(int(grid[0]), int(block[0]), *conv)


class _Graph:
    def __init__(self, env, launches):
        self.env, self.launches = env, launches

    def launch(self, stream=None):
        for k, grid, block, args in self.launches:
            self.env.access(stream, args, f"graph node {k.name}")
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
    def on_current(a: FakeArray, *inputs, what: str) -> FakeArray:
        """A new device array written on the current stream (a copy, memset or kernel of CuPy's)."""
        env.access(None, (*inputs, a), what)
        return a

    cp.asarray = lambda a: a if isinstance(a, FakeArray) else on_current(FakeArray(np.array(a, copy=True), env),
                                                                          what="cupy.asarray")
    cp.zeros = lambda n, dtype=np.float64: on_current(FakeArray(np.zeros(n, dtype), env), what="cupy.zeros")

    def concatenate(parts):
        env.no_capture("cupy.concatenate")
        if not all(isinstance(p, FakeArray) for p in parts):
            raise TypeError("cupy.concatenate takes device arrays")
        return on_current(FakeArray(np.concatenate([p._a for p in parts]), env), *parts, what="cupy.concatenate")

    cp.concatenate = concatenate

    def unique(a, return_counts=False):
        env.no_capture("cupy.unique")
        out = np.unique(a._a, return_counts=return_counts)
        res = tuple(FakeArray(x, env) for x in out) if return_counts else (FakeArray(out, env),)
        env.access(None, (a, *res), "cupy.unique")
        env.synchronize(env.current())     # its boolean mask indexing waits for the current stream
        return res if return_counts else res[0]

    cp.unique = unique
    cp.cumsum = lambda a: on_current(FakeArray(np.cumsum(a._a), env), a, what="cupy.cumsum")

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

        def __init__(self, non_blocking: bool = False, null: bool = False):
            self.non_blocking = non_blocking
            self.capturing = None
            self.is_null = null

        def __repr__(self):
            return "<legacy null stream>" if self.is_null else f"<Stream non_blocking={self.non_blocking}>"

        def __enter__(self):
            env.streams.append(self)
            return self

        def __exit__(self, *exc):
            env.streams.pop()

        def begin_capture(self):
            if self.is_null:
                raise RuntimeError("cannot capture on the default (legacy) stream")
            if not self.non_blocking:
                raise RuntimeError("a blocking stream cannot capture")
            self.capturing = []

        def end_capture(self):
            g, self.capturing = _Graph(env, self.capturing), None
            return g

        def synchronize(self):
            if self.capturing is not None:
                raise RuntimeError("synchronize while capturing (cudaErrorStreamCaptureUnsupported)")
            env.synchronize(self)

    env.null = Stream(null=True)
    Stream.null = env.null

    class Event:
        t = 0.0
        stream = None
        op = 0

        def record(self, stream=None):
            self.t = time.perf_counter()   # the emulator runs synchronously: host time is kernel time
            self.stream = env.stream_of(stream)
            self.op = env.ops[self.stream]

        def synchronize(self):
            if self.stream is not None:
                env.synchronize(self.stream, self.op)

        @property
        def done(self) -> bool:
            return self.stream is None or env.done[self.stream] >= self.op

    def get_elapsed_time(a, b):
        if a.stream is None or b.stream is None:
            raise RuntimeError("cudaErrorInvalidResourceHandle: an event that was never recorded")
        if not (a.done and b.done):
            raise RuntimeError("cudaErrorNotReady: an event's work has not finished (synchronise first)")
        return (b.t - a.t) * 1e3

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
    cuda.get_current_stream = env.current
    cuda.alloc_pinned_memory = lambda nbytes: bytearray(nbytes)     # np.frombuffer takes it as CuPy's
    cuda.get_elapsed_time = get_elapsed_time
    props = {"name": b"CPU emulation", "totalGlobalMem": 2 * free_bytes, "multiProcessorCount": n_sm}
    cuda.runtime = types.SimpleNamespace(memGetInfo=lambda: (env.free_bytes, 2 * env.free_bytes),
                                         getDeviceCount=lambda: env.n_devices, getDeviceProperties=lambda i: props,
                                         driverGetVersion=lambda: 0, runtimeGetVersion=lambda: 0,
                                         deviceSynchronize=env.synchronize_all)
    cp.cuda = cuda
    cp.RawModule = RawModule

    class MemoryPool:
        """CuPy's default pool as far as memory checks see it: freed blocks stay cached in the pool, not
        free for cudaMemGetInfo, until free_all_blocks (or an allocation that would fail) releases them."""

        def free_bytes(self) -> int:
            return env.pool_free_bytes

        def free_all_blocks(self, stream=None) -> None:
            env.free_bytes += env.pool_free_bytes
            env.pool_free_bytes = 0

    pool = MemoryPool()
    cp.get_default_memory_pool = lambda: pool
    return cp
