"""Build hook: compiles the popcount/Dice kernel (pprl/compare/_kernel.c).

No -march flags: the AVX2 and AVX-512 paths use per-function target attributes and
are chosen at runtime, so one build runs on any x86-64; on AArch64 the NEON path needs
no flags (Advanced SIMD is baseline); elsewhere only the portable path is compiled.
If the extension cannot be built or loaded, pprl.compare falls back to numpy.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pprl.compare._kernel",
            sources=["pprl/compare/_kernel.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wno-unknown-pragmas"],
        )
    ]
)
