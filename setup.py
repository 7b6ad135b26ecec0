"""Install mmtlsi. ``make install`` does this with the pinned, tested set."""
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
    # mmengine resolves `_base_ = 'mmtlsi::...'` inside <package>/.mim/configs
    package_data={'mmtlsi': ['.mim/configs/**/*.py', '.mim/model-index.yml',
                            'datasets/meta/*.json']},
    include_package_data=True,
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
