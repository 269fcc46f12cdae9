"""The one compiled part of curate: the block pass of `extract`'s block model (curate/stages/extract/_blockfeat.c).

Everything else is in pyproject.toml. `optional=True`: where no C compiler is found the install still
succeeds and extract runs the same pass in Python (it logs that it does, once).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("curate.stages.extract._blockfeat", ["curate/stages/extract/_blockfeat.c"],
                  extra_compile_args=["-O3", "-std=gnu11", "-Wall"], optional=True),
    ],
)
