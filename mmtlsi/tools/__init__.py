"""mmtlsi's command-line tools, importable: ``python -m mmtlsi.tools.<name>``.

Each module parses its arguments and calls into the package; the scripts in
the repository's ``tools/`` (and ``mmtlsi/.mim/tools`` in an installed
package, where OpenMMLab's ``mim`` looks) only call these modules' ``main``.
"""
