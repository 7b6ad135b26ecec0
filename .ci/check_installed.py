"""Compare what an installed mmtlsi (wheel) or an sdist holds with the
repository's files; exit 1 naming every file the install lacks.

    python .ci/check_installed.py REPO [--sdist FILE.tar.gz]

Run with the Python of the environment the wheel is installed in, outside
the repository (so that ``import mmtlsi`` finds the installed package).
The repository's ``configs/``, ``tools/``, ``demo/`` and ``model-index.yml``
must be in ``mmtlsi/.mim/``; every tracked file of ``mmtlsi/`` in the
package; for an sdist, every file setup.py reads and the package's files.
"""
import argparse
import os.path as osp
import subprocess
import sys
import tarfile

MIM = ('configs/', 'tools/', 'demo/')


def tracked(repo):
    out = subprocess.run(['git', '-C', repo, 'ls-files', '-s'],
                         check=True, capture_output=True, text=True).stdout
    files = []
    for line in out.splitlines():
        mode, _, _, path = line.split(None, 3)
        if mode != '120000':            # a symbolic link: its target counts
            files.append(path)
    return files


def wanted_in_package(files):
    """Repository path -> path below the installed ``mmtlsi/``."""
    wanted = {}
    for f in files:
        if f.startswith(MIM) or f == 'model-index.yml':
            wanted[f] = '.mim/' + f
        elif f.startswith('mmtlsi/'):
            wanted[f] = f[len('mmtlsi/'):]
    return wanted


def main():
    p = argparse.ArgumentParser()
    p.add_argument('repo')
    p.add_argument('--sdist')
    args = p.parse_args()
    files = tracked(args.repo)
    wanted = wanted_in_package(files)
    if args.sdist:
        with tarfile.open(args.sdist) as tar:
            names = {n.split('/', 1)[1] for n in tar.getnames() if '/' in n}
        need = [f for f in files if not f.startswith(('tests/', '.'))
                and f != 'Makefile' and 'mmtlsi/.mim/' not in f]
        need += ['mmtlsi/' + v for v in wanted.values()]
        missing = sorted(set(f for f in need if f not in names))
        where = args.sdist
    else:
        import mmtlsi
        root = osp.dirname(mmtlsi.__file__)
        if osp.abspath(args.repo) in osp.abspath(root):
            sys.exit(f'error: mmtlsi is imported from the repository '
                     f'({root}), not from an installed wheel')
        missing = sorted(f'{src} (mmtlsi/{dst})' for src, dst in
                         wanted.items()
                         if not osp.isfile(osp.join(root, dst)))
        where = root
    if missing:
        print(f'{len(missing)} file(s) of the repository missing from '
              f'{where}:')
        print('\n'.join(f'  {m}' for m in missing))
        sys.exit(1)
    print(f'{where}: all {len(wanted)} files of the repository present')


if __name__ == '__main__':
    main()
