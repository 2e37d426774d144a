"""Package discovery only; all metadata lives in setup.cfg.

`pipelines/` and `cli/` are installed as `actclr.pipelines` and `actclr.cli`, so the
distribution never puts bare top-level `pipelines` or `cli` modules into site-packages.
"""
from setuptools import find_packages, setup

MAPPED = {"actclr.pipelines": "pipelines", "actclr.cli": "cli"}


def _packages() -> list:
    packages = find_packages(include=["actclr", "actclr.*"])
    for name, folder in MAPPED.items():
        packages += [name] + [f"{name}.{sub}" for sub in find_packages(where=folder)]
    return packages


setup(packages=_packages(), package_dir=MAPPED)
