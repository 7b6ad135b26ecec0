"""Every checkpoint URL of the configs is published: listed by the installed
mmpretrain or mmseg model index (model-index.yml, the metafiles it imports,
and the configs those name), or on the Swin authors' release page that the
index itself cites as the source of its converted Swin weights."""
import glob
import os.path as osp
import re

import mmpretrain
import mmseg
import pytest
import yaml
from mmengine import Config

import mmtlsi  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER_CONFIGS = ['swin-t_nyud.py', 'swin-t_pascal.py', 'swin-l_nyud.py',
                 'swin-l_pascal.py', 'hrnet18_nyud.py', 'hrnet18_pascal.py']
URL = re.compile(r'https?://[^\s\'"]+\.pth')
SWIN_RELEASE_NAME = re.compile(
    r'swin_(tiny|small|base|large)_patch4_window\d+_\d+(_22k)?\.pth')


def _index(package):
    """URLs of the package's model index: (listed, converted-from)."""
    mim = osp.join(osp.dirname(package.__file__), '.mim')
    with open(osp.join(mim, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    listed, sources = set(), set()
    for metafile in metafiles:
        with open(osp.join(mim, metafile)) as f:
            models = yaml.safe_load(f).get('Models') or []
        for model in models:
            if model.get('Weights'):
                listed.add(model['Weights'])
            source = model.get('Converted From') or {}
            if source.get('Weights'):
                sources.add(source['Weights'])
            config = osp.join(mim, model.get('Config') or '-')
            if osp.isfile(config):
                with open(config) as f:
                    listed.update(URL.findall(f.read()))
    return listed, sources


@pytest.fixture(scope='module')
def published():
    listed, sources = set(), set()
    for package in (mmpretrain, mmseg):
        a, b = _index(package)
        listed |= a
        sources |= b
    swin_release = {osp.dirname(osp.dirname(u)) + '/' for u in sources
                    if 'SwinTransformer/storage/releases' in u}
    assert swin_release == {
        'https://github.com/SwinTransformer/storage/releases/download/'}
    return listed, swin_release.pop()


def _urls(cfg_dict):
    found = []

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
        elif isinstance(node, str) and node.startswith(('http://',
                                                         'https://')):
            found.append(node)

    walk(cfg_dict)
    return found


CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                           recursive=True))


@pytest.mark.parametrize('path', CONFIGS,
                         ids=lambda p: osp.relpath(p, ROOT))
def test_every_checkpoint_url_is_published(path, published):
    listed, swin_release = published
    for url in _urls(Config.fromfile(path).to_dict()):
        official = url.startswith(swin_release) and SWIN_RELEASE_NAME.match(
            osp.basename(url))
        assert url in listed or official, url


def test_paper_configs_name_the_expected_sources(published):
    listed, swin_release = published
    sources = {}
    for name in PAPER_CONFIGS:
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mtlsi', name))
        assert cfg.model.backbone.init_cfg.type == 'StrictPretrained'
        sources[name] = cfg.model.backbone.init_cfg.checkpoint
    # Swin-T ImageNet-22K: only the authors' release has it
    assert sources['swin-t_nyud.py'].startswith(swin_release)
    # Swin-L: mmseg's conversion (its Mask2Former configs); HRNet-W18:
    # mmpretrain's ImageNet-1K classifier (its metafile)
    for name in ('swin-l_nyud.py', 'hrnet18_nyud.py'):
        assert sources[name] in listed
    assert len(set(sources.values())) == 3
