# MTLSI-Net, HRNet-W18 (mmpretrain), PASCAL-Context. mmpretrain's HRNet returns its
# four branches (18/36/72/144 channels at strides 4/8/16/32); the preliminary
# decoders take all four.
_base_ = ['../_base_/mtlsi_pascal.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.HRNet',
        arch='w18',
        multiscale_output=True,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        # mmpretrain's ImageNet-1K classifier (no ImageNet-22K HRNet-W18 is
        # published); its backbone.* keys are loaded
        init_cfg=dict(
            type='StrictPretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'hrnet/hrnet-w18_3rdparty_8xb32_in1k_20220120-0c10b180.pth')),
    decode_head=dict(in_channels=[18, 36, 72, 144], channels=184))
