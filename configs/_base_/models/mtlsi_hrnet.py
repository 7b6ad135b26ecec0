# MTLSI-Net with an HRNet-W18 backbone (mmpretrain). mmpretrain's HRNet
# returns its four branches (18/36/72/144 channels at strides 4/8/16/32); the
# preliminary decoders take all four.
norm_cfg = dict(type='BN')
model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0),
    backbone=dict(
        type='mmpretrain.HRNet',
        arch='w18',
        multiscale_output=True,
        # no ImageNet-22K HRNet-W18 exists; ImageNet-1K weights
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'hrnet/hrnet-w18_3rdparty_8xb32_in1k_20220120-0c10b180.pth')),
    decode_head=dict(
        type='MTLSIHead',
        in_channels=[18, 36, 72, 144],
        tasks=['semseg', 'depth', 'normals', 'edge'],
        task_cfg=dict(),
        channels=184,
        num_heads=8,
        num_tokens=512,
        window_size=(14, 16),
        fusion=dict(type='MTMQLFB', scales=(1, 3, 5), pool_stride=2,
                    mlp_ratio=4.0),
        preliminary_decoder=dict(lateral_kernel=(1, 1, 1, 3), num_convs=3),
        output_decoder=dict(lateral_kernel=3, num_convs=3),
        distiller_hidden=None,
        ffn_ratio=4.0,
        coarse_loss_weight=1.0,
        norm_cfg=norm_cfg),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
