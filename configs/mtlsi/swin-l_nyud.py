# MTLSI-Net, Swin-L (ImageNet-22K, 384px / window 12), NYUDv2.
_base_ = ['../_base_/mtlsi_nyud.py']
model = dict(
    backbone=dict(
        arch='large',
        img_size=384,
        window_size=12,
        drop_path_rate=0.3,
        # mmseg's conversion of the authors' release (mm layout)
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
            'pretrain/swin/swin_large_patch4_window12_384_22k_20220412-'
            '6580f57d.pth')),
    decode_head=dict(in_channels=[192, 384, 768, 1536], channels=248))
