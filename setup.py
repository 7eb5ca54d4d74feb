"""Build hook: compiles the popcount/Dice kernel (pprl/compare/_kernel.c).

No -march flags: the AVX2 and AVX-512 paths use per-function target attributes and
are chosen at runtime, so one build runs on any x86-64 (and compiles elsewhere with
only the portable path).
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
