"""Checkpoints in the layouts the backbones' weights are published in, made
from the architectures (random values, so every tensor is recognisable).

- ``OfficialSwin``: the module tree of the Swin Transformer authors' release
  (``models/swin_transformer.py`` of microsoft/Swin-Transformer), written
  here from its published parameter names and shapes: ``patch_embed.proj``,
  ``layers.N.blocks.M.{norm1,attn.{qkv,proj,relative_position_bias_table,
  relative_position_index},norm2,mlp.{fc1,fc2}}``, ``attn_mask`` buffers of
  the shifted blocks, ``layers.N.downsample.{reduction,norm}``, ``norm``,
  ``head``. Its patch merging concatenates the 2x2 neighbours as
  x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2].
- mmseg's ``SwinTransformer`` and mmpretrain's ``ImageClassifier`` with
  ``HRNet``: built from mmseg / mmpretrain.
"""
import torch
import torch.nn as nn


def official_relative_position_index(window: int) -> torch.Tensor:
    """The official release's index: (dy + w-1) * (2w-1) + (dx + w-1)."""
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window),
                            indexing='ij')
    coords = torch.stack([ys.flatten(), xs.flatten()])        # 2, w*w
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (rel[..., 0] + window - 1) * (2 * window - 1) + (rel[..., 1] +
                                                           window - 1)


class _Attention(nn.Module):

    def __init__(self, dim, heads, window):
        super().__init__()
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1)**2, heads))
        self.register_buffer('relative_position_index',
                             official_relative_position_index(window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)


class _Mlp(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)


class _Block(nn.Module):

    def __init__(self, dim, heads, window, shifted, resolution):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim)
        windows = max(resolution // window, 1)**2
        self.register_buffer(
            'attn_mask',
            torch.zeros(windows, window**2, window**2) if shifted else None)


class OfficialPatchMerging(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        """x: (B, H, W, C) -> (B, H/2 * W/2, 2C), as the official code."""
        x0 = x[:, 0::2, 0::2]
        x1 = x[:, 1::2, 0::2]
        x2 = x[:, 0::2, 1::2]
        x3 = x[:, 1::2, 1::2]
        x = torch.cat([x0, x1, x2, x3], -1).flatten(1, 2)
        return self.reduction(self.norm(x))


class _Layer(nn.Module):

    def __init__(self, dim, depth, heads, window, resolution, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(
            _Block(dim, heads, window, i % 2 == 1, resolution)
            for i in range(depth))
        self.downsample = OfficialPatchMerging(dim) if downsample else None


class _PatchEmbed(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 4, 4)
        self.norm = nn.LayerNorm(dim)


class OfficialSwin(nn.Module):
    """The parameter tree of the official Swin release (no forward)."""

    def __init__(self, embed_dim=96, depths=(2, 2, 6, 2),
                 num_heads=(3, 6, 12, 24), window=7, img_size=224,
                 num_classes=1000):
        super().__init__()
        self.patch_embed = _PatchEmbed(embed_dim)
        self.layers = nn.ModuleList()
        resolution = img_size // 4
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            self.layers.append(
                _Layer(embed_dim * 2**i, depth, heads, window, resolution,
                       downsample=i < len(depths) - 1))
            resolution //= 2
        final = embed_dim * 2**(len(depths) - 1)
        self.norm = nn.LayerNorm(final)
        self.head = nn.Linear(final, num_classes)


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every floating-point tensor (parameters and buffers) random
    values, so that no loaded value can equal an initial one by chance."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
    return module


SWIN_ARCHS = {
    # official constructor arguments of the released models
    'tiny': dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    'large': dict(embed_dim=192, depths=(2, 2, 18, 2),
                  num_heads=(6, 12, 24, 48)),
}


def official_swin_checkpoint(path, seed=0, **kwargs) -> dict:
    """Write ``{'model': state_dict}`` of an OfficialSwin; return the dict."""
    state = randomize(OfficialSwin(**kwargs), seed).state_dict()
    torch.save({'model': state}, path)
    return state


def mmseg_swin_checkpoint(path, arch: dict, window, seed=0) -> dict:
    """A checkpoint as an mmseg training run writes it:
    ``{'meta', 'state_dict': {'backbone.*', 'decode_head.*'}}`` from mmseg's
    own SwinTransformer (with a ``module.`` prefix as DataParallel saves)."""
    from mmseg.models.backbones import SwinTransformer
    swin = randomize(
        SwinTransformer(
            embed_dims=arch['embed_dim'], depths=arch['depths'],
            num_heads=arch['num_heads'], window_size=window,
            out_indices=(0, 1, 2, 3)), seed)
    state = swin.state_dict()
    full = {f'module.backbone.{k}': v for k, v in state.items()}
    full['module.decode_head.conv_seg.weight'] = torch.randn(3, 8, 1, 1)
    torch.save({'meta': {'iter': 1}, 'state_dict': full}, path)
    return state


def mmpretrain_hrnet_checkpoint(path, seed=0) -> dict:
    """mmpretrain's ImageNet HRNet-W18 classifier (its own config), saved
    as mmpretrain saves it: ``{'meta', 'state_dict': {backbone., neck.,
    head.}}``."""
    import os.path as osp

    import mmpretrain
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmpretrain.__file__), '.mim', 'configs', '_base_',
        'models', 'hrnet', 'hrnet-w18.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = randomize(MODELS.build(cfg.model), seed)
    state = model.state_dict()
    torch.save({'meta': {'epoch': 100}, 'state_dict': state}, path)
    return {k[len('backbone.'):]: v for k, v in state.items()
            if k.startswith('backbone.')}
