"""Install mmtlsi. ``make install`` does this with the pinned, tested set.

The wheel and the sdist carry the configs, the model index and the tools
inside the package, at ``mmtlsi/.mim/{configs,tools,demo,model-index.yml}``,
where mmengine resolves ``_base_ = 'mmtlsi::...'`` and OpenMMLab's ``mim``
finds ``train.py``, ``test.py`` and the other scripts. In the repository
these four are symbolic links to the top-level folders; building follows
them and copies the files.
"""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    path = osp.join(HERE, 'requirements', name)
    with open(path, encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


def read_version():
    scope = {}
    with open(osp.join(HERE, 'mmtlsi', 'version.py'), encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


#: what the package ships for mmengine and mim (below mmtlsi/.mim)
MIM_FILES = [
    '.mim/model-index.yml',
    *(f'.mim/configs/**/*.{ext}' for ext in ('py', 'yml', 'md')),
    *(f'.mim/tools/**/*.{ext}' for ext in ('py', 'sh')),
    *(f'.mim/demo/*.{ext}' for ext in ('py', 'md')),
]

#: ``mmtlsi-<tool>`` commands, the same as ``python -m mmtlsi.tools.<tool>``
CONSOLE_SCRIPTS = [
    f'mmtlsi-{name.replace("_", "-")}=mmtlsi.tools.{name}:main'
    for name in ('train', 'test', 'print_config', 'check_dataset',
                 'browse_dataset', 'analyze_logs', 'collect_results',
                 'backbone2mm')
]

with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
    long_description = f.read()

setup(
    name='mmtlsi',
    version=read_version(),
    description='MTLSI-Net: linear-time multi-task dense prediction, '
                'an OpenMMLab plugin for MMSegmentation',
    long_description=long_description,
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.11',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo',
                                    'docs')),
    package_data={'mmtlsi': MIM_FILES + ['datasets/meta/*.json']},
    include_package_data=False,
    entry_points={'console_scripts': CONSOLE_SCRIPTS},
    install_requires=read_requirements('runtime.txt') +
    read_requirements('mminstall.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'optional': read_requirements('optional.txt'),
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.11',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
