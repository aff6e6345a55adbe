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

import hashlib
import os
import runpy
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent


COMPILE = os.environ.get("WIREPOST_COMPILE", "") == "1"
MODULES: list[str] = list(runpy.run_path(str(HERE / "service" / "build.py"))["COMPILED_MODULES"])


def _extensions() -> list[object]:
    if not COMPILE:
        return []
    from mypyc.build import mypycify

    # mypyc names a module after its path: under .mypy_paths, links name the import packages
    # (wirepost -> service).
    paths = [str(Path(".mypy_paths", *name.split("."))) + ".py" for name in MODULES]
    return list(mypycify(paths, group_name="wirepost"))


def _build_base() -> str:
    """A build folder per kind of build: setuptools packs whatever its build/lib holds, so a pure
    build after a compiled one (or a compiled one after the module list changed) would otherwise
    ship the extensions left there, and Python would load them instead of the sources."""
    if not COMPILE:
        return "build/pure"
    return "build/compiled-" + hashlib.sha256("\n".join(MODULES).encode()).hexdigest()[:12]


setup(ext_modules=_extensions(), options={"build": {"build_base": _build_base()}})
