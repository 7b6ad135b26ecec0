"""The tiny MTLSI-Net the extension tests train (a ResNet-18 at 1/8 width,
16-channel head): small enough for a few CPU iterations per test."""


def tiny_mtlsi(tasks, task_cfg=None, size=(64, 96), mean=(128., ) * 3,
               std=(64., ) * 3, bgr_to_rgb=True) -> dict:
    """``model`` config predicting ``tasks``; training batches are padded to
    ``size``, test images to a multiple of 32."""
    return dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(
            type='MultiTaskDataPreProcessor', mean=list(mean), std=list(std),
            bgr_to_rgb=bgr_to_rgb, size=tuple(size),
            test_cfg=dict(size_divisor=32)),
        backbone=dict(type='mmpretrain.ResNet', depth=18, stem_channels=8,
                      base_channels=8, out_indices=(0, 1, 2, 3)),
        decode_head=dict(
            type='MTLSIHead', in_channels=[8, 16, 32, 64], tasks=list(tasks),
            task_cfg=dict(task_cfg or {}), channels=16, num_heads=2,
            num_tokens=8, window_size=(4, 6),
            preliminary_decoder=dict(lateral_kernel=(1, 1, 1, 3),
                                     num_convs=1),
            output_decoder=dict(num_convs=1)),
        test_cfg=dict(mode='whole'))
