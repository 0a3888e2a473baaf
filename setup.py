"""Build hook: the wheel carries the top-level templates/ and static/ inside the package, as kb/templates and
kb/static, so an installed kb serves pages. The repository keeps them at the top level (DESIGN.md), and a
source checkout or an editable install serves them from there (see kb/__init__.py). Metadata: setup.cfg."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDERS = ("templates", "static")


class build_py_with_site_files(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the top-level folders in place
        for folder in FOLDERS:
            target = os.path.join(self.build_lib, "kb", folder)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(os.path.join(HERE, folder), target,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": build_py_with_site_files})
