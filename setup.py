"""The package layout, in setup.py because pyproject.toml cannot both discover packages and add one more.

All C++/CUDA text lives in the top-level `templates/` folder; a wheel carries it as `tpat/templates/` (the
package `tpat.templates`, mapped onto that folder), so a non-editable install renders plugins too. tpat/render.py
looks there first and then beside the package, where a source checkout (editable install, PYTHONPATH) has it.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["tpat", "tpat.*"]), "tpat.templates"],
    package_dir={"tpat.templates": "templates"},
    package_data={"tpat": ["trt/checker/*.cpp"], "tpat.templates": ["*.j2"]},
)
