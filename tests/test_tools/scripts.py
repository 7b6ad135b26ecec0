"""The one way the tests load or run a repository script (``.dev_scripts/``,
``tools/``) that is not part of the package.

    from scripts import ROOT, load_script, run_script
    tool = load_script('.dev_scripts/gpu_check.py')   # a module object
    result = run_script('tools/analysis_tools/get_flops.py', [...])
"""
import importlib.util
import os.path as osp
import runpy
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_script(path: str):
    """The script at ``path`` (relative to the repository) imported as a
    module named after it, without running its ``__main__`` block."""
    full = osp.join(ROOT, path)
    name = '_script_' + osp.splitext(path)[0].replace('/', '_').replace(
        '.', '_')
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(path: str, argv=()):
    """Run the script at ``path`` as ``python path *argv`` would, in this
    process; returns its globals."""
    old = sys.argv
    sys.argv = [osp.join(ROOT, path), *map(str, argv)]
    try:
        return runpy.run_path(sys.argv[0], run_name='__main__')
    finally:
        sys.argv = old
