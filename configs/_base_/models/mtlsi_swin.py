# MTLSI-Net with a Swin Transformer backbone (mmpretrain), Swin-T by default.
# Widths and depths were chosen so that the parameters outside the backbone
# match the paper (docs/model.md has the table and the reasons).
# SyncBN as in mmseg's configs: batch statistics over all GPUs; in a
# single-process run mmengine's runner turns it into plain BN.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0),
    backbone=dict(
        type='mmpretrain.SwinTransformer',
        arch='tiny',
        img_size=224,
        window_size=7,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        # ImageNet-22K Swin-T, the authors' release (converted on load).
        # StrictPretrained stops with an error when a backbone tensor takes
        # no value from the file; docs/backbones.md lists every checkpoint.
        init_cfg=dict(
            type='StrictPretrained',
            checkpoint='https://github.com/SwinTransformer/storage/releases/'
            'download/v1.0.8/swin_tiny_patch4_window7_224_22k.pth')),
    decode_head=dict(
        type='MTLSIHead',
        in_channels=[96, 192, 384, 768],
        tasks=['semseg', 'depth', 'normals', 'edge'],
        task_cfg=dict(),
        channels=176,
        num_heads=8,
        num_tokens=512,
        window_size=(14, 16),
        # one global linear-attention context (the paper's); heads > 1:
        # ablations/swin-t_nyud_fusion-8heads.py
        fusion=dict(type='MTMQLFB', num_heads=1, scales=(1, 3, 5),
                    pool_stride=2, mlp_ratio=4.0),
        preliminary_decoder=dict(lateral_kernel=(1, 1, 1, 3), num_convs=3),
        output_decoder=dict(lateral_kernel=3, num_convs=3),
        distiller_hidden=None,
        ffn_ratio=4.0,
        cwib=dict(rel_pos_bias=True),  # Swin's W-MSA position bias
        coarse_loss_weight=1.0,
        norm_cfg=norm_cfg),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
