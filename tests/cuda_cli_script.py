"""``cortex-gpu`` with the CUDA kernels emulated on the CPU (tests/cuda_emulator), for many-rank CLI tests.

``python cuda_cli_script.py EMULATOR_LIB N_DEVICES CLI_ARGS...``: puts the
emulator-backed stand-in for CuPy (``N_DEVICES`` fake devices) in place,
then runs ``cortex_gpu.cli.main(CLI_ARGS)`` and exits with its status.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    sys.path[:0] = [str(HERE / "cuda_emulator")]
    from fake_cupy import make_fake_cupy
    sys.modules["cupy"] = make_fake_cupy(Path(sys.argv[1]), n_devices=int(sys.argv[2]))
    from cortex_gpu.cli import main
    sys.exit(main(sys.argv[3:]))
