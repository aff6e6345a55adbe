"""Builds Wirepost; with ``WIREPOST_COMPILE=1``, compiles the delivery path with mypyc.

Everything else about the package is in pyproject.toml. The compiled build is for production
images and benchmarks (the Dockerfile makes it): the modules listed in service/build.py become
C extensions beside their sources, and Python loads the extension. It needs a C compiler and
the ``compile`` extra, and is installed without build isolation and without ``-e``:

    pip install '.[compile]'
    WIREPOST_COMPILE=1 pip install --no-build-isolation --no-deps --force-reinstall .

(mypyc type-checks the code, so the runtime packages and the stubs must be installed; an
editable install would leave the extensions in the source tree, where they would shadow every
later edit of those modules.) Plain ``pip install`` and ``pip install -e`` build the pure Python
package. ``wirepost --version`` says which build is installed.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent


def _extensions() -> list[object]:
    if os.environ.get("WIREPOST_COMPILE", "") != "1":
        return []
    from mypyc.build import mypycify

    modules = runpy.run_path(str(HERE / "service" / "build.py"))["COMPILED_MODULES"]
    # mypyc names a module after its path: under .mypy_paths, links name the import packages
    # (wirepost -> service).
    paths = [str(Path(".mypy_paths", *name.split("."))) + ".py" for name in modules]
    return list(mypycify(paths, group_name="wirepost"))


setup(ext_modules=_extensions())
