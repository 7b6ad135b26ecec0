# MTLSI-Net with an HRNet-W18 backbone (mmpretrain): the Swin base with the
# backbone swapped. mmpretrain's HRNet returns its four branches (18/36/72/144
# channels at strides 4/8/16/32); the preliminary decoders take all four.
_base_ = ['./mtlsi_swin.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.HRNet',
        arch='w18',
        multiscale_output=True,
        # no ImageNet-22K HRNet-W18 exists; ImageNet-1K weights
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'hrnet/hrnet-w18_3rdparty_8xb32_in1k_20220120-0c10b180.pth')),
    decode_head=dict(in_channels=[18, 36, 72, 144], channels=184))
