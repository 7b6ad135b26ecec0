"""MultiTaskEncoderDecoder + MTLSIHead at tiny size: losses, gradients,
prediction at the original size (padding, flip)."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmtlsi  # noqa: F401
from mmtlsi.models.segmentors import restore_original_frame
from mmtlsi.registry import MODELS
from mmtlsi.tasks import build_task_specs

NYUD = ['semseg', 'depth', 'normals', 'edge']
PASCAL = ['semseg', 'human_parts', 'normals', 'sal', 'edge']


def tiny_model(tasks=NYUD, task_cfg=None, **head):
    init_default_scope('mmseg')
    head_cfg = dict(type='MTLSIHead', in_channels=[8, 16, 32, 64],
                    tasks=tasks, task_cfg=task_cfg, channels=16,
                    num_heads=2, num_tokens=8, window_size=(4, 6),
                    preliminary_decoder=dict(lateral_kernel=(1, 1, 1, 3),
                                             num_convs=1),
                    output_decoder=dict(num_convs=1))
    head_cfg.update(head)
    return MODELS.build(dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor',
                               mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='mmpretrain.ResNet', depth=18, stem_channels=8,
                      base_channels=8, out_indices=(0, 1, 2, 3)),
        decode_head=head_cfg))


def make_samples(tasks, n, h, w, task_cfg=None):
    specs = build_task_specs(tasks, task_cfg)
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w),
                                        pad_shape=(h, w)))
        for spec in specs.values():
            if spec.output == 'classes':
                data = torch.randint(0, spec.out_channels, (1, h, w),
                                     generator=g)
                data[:, 0] = 255
            elif spec.output == 'binary':
                data = torch.randint(0, 2, (1, h, w), generator=g)
            elif spec.output == 'scalar':
                data = torch.rand(1, h, w, generator=g) * 3
                data[:, :2] = 0
            else:
                data = torch.nn.functional.normalize(
                    torch.randn(3, h, w, generator=g), dim=0)
                data[:, -1] = 0
            s.set_data({spec.gt_field: PixelData(data=data)})
        samples.append(s)
    return samples


@pytest.mark.parametrize('tasks,task_cfg,head', [
    (NYUD, None, {}),
    (PASCAL, dict(semseg=dict(num_classes=21)), {}),
    (NYUD, None, dict(fusion=dict(type='CrossTaskAttention'))),
    (['depth'], None, {}),
])
def test_train_step_losses_and_gradients(tasks, task_cfg, head):
    torch.manual_seed(0)
    model = tiny_model(tasks, task_cfg, **head)
    model.train()
    inputs = torch.randn(2, 3, 64, 64)
    losses = model(inputs, make_samples(tasks, 2, 64, 64, task_cfg),
                   mode='loss')
    expected = {f'loss_{t}' for t in tasks} | \
        {f'loss_{t}_coarse' for t in tasks}
    assert set(losses) == expected
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None
                                       or not torch.isfinite(p.grad).all())]
    assert not no_grad, no_grad


def test_pd_only_has_coarse_losses_and_no_refinement_modules():
    model = tiny_model(fusion=None)
    assert not hasattr(model.decode_head, 'cwibs')
    losses = model(torch.randn(2, 3, 64, 64), make_samples(NYUD, 2, 64, 64),
                   mode='loss')
    assert set(losses) == {f'loss_{t}' for t in NYUD}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_tensor_mode_returns_logits_per_task():
    model = tiny_model().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 48), mode='tensor')
    assert {t: tuple(v.shape) for t, v in out.items()} == {
        'semseg': (1, 40, 32, 48), 'depth': (1, 1, 32, 48),
        'normals': (1, 3, 32, 48), 'edge': (1, 1, 32, 48)}


def test_predict_through_preprocessor_crops_padding_to_original_size():
    model = tiny_model().eval()
    model.data_preprocessor.test_cfg = dict(size=(64, 64))
    imgs = [torch.randint(0, 255, (3, 50, 41), dtype=torch.uint8),
            torch.randint(0, 255, (3, 64, 30), dtype=torch.uint8)]
    samples = []
    for img in imgs:
        h, w = img.shape[1:]
        samples.append(SegDataSample(metainfo=dict(
            ori_shape=(h, w), img_shape=(h, w))))
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=imgs,
                                            data_samples=samples))
        results = model(**data, mode='predict')
    specs = model.task_specs
    for img, res in zip(imgs, results):
        for t, spec in specs.items():
            pred = res.get(spec.pred_field).data
            assert pred.shape[1:] == img.shape[1:], t
        assert res.pred_sem_seg.data.dtype == torch.int64
        assert res.pred_sem_seg.data.shape[0] == 1
        assert (res.pred_depth_map.data >= 0).all()
        torch.testing.assert_close(res.pred_normal_map.data.norm(dim=0),
                                   torch.ones(img.shape[1:]))
        edge = res.pred_edge_map.data
        assert edge.dtype == torch.float32 and 0 <= edge.min() <= \
            edge.max() <= 1


def test_restore_original_frame_padding_flip_and_resize():
    spec = build_task_specs(['normals'])['normals']
    logits = torch.arange(3 * 4 * 6, dtype=torch.float32).view(3, 4, 6)
    meta = dict(padding_size=[1, 2, 0, 1], ori_shape=(3, 3))
    out = restore_original_frame(logits, meta, spec)
    torch.testing.assert_close(out, logits[:, 0:3, 1:4])
    meta.update(flip=True, flip_direction='horizontal')
    out = restore_original_frame(logits, meta, spec)
    expected = logits[:, 0:3, 1:4].flip(-1)
    expected[0] = -expected[0]          # x component of normals
    torch.testing.assert_close(out, expected)
    depth = build_task_specs(['depth'])['depth']
    meta = dict(img_padding_size=[0, 0, 0, 0], ori_shape=(8, 12))
    out = restore_original_frame(torch.ones(1, 4, 6), meta, depth)
    assert out.shape == (1, 8, 12)


def test_predict_undoes_flip():
    model = tiny_model(['depth']).eval()
    x = torch.randn(1, 3, 32, 32)
    meta = dict(ori_shape=(32, 32), img_shape=(32, 32),
                padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        plain = model.predict(x, [SegDataSample(metainfo=meta)])
        flipped = model.predict(x, [SegDataSample(metainfo=dict(
            meta, flip=True, flip_direction='horizontal'))])
    torch.testing.assert_close(flipped[0].pred_depth_map.data,
                               plain[0].pred_depth_map.data.flip(-1))


def test_unsupported_test_modes_fail_clearly():
    with pytest.raises(ValueError, match="test_cfg.mode='slide'"):
        init_default_scope('mmseg')
        MODELS.build(dict(
            type='MultiTaskEncoderDecoder',
            backbone=dict(type='mmpretrain.ResNet', depth=18,
                          stem_channels=8, base_channels=8,
                          out_indices=(0, 1, 2, 3)),
            decode_head=dict(type='MTLSIHead', in_channels=[8, 16, 32, 64],
                             tasks=['depth'], channels=16, num_heads=2,
                             num_tokens=8, window_size=(4, 4)),
            test_cfg=dict(mode='slide', crop_size=(32, 32),
                          stride=(16, 16))))
    model = tiny_model(['depth']).eval()
    x = torch.randn(1, 3, 32, 32)
    metas = [dict(ori_shape=(32, 32), img_shape=(32, 32))]
    with pytest.raises(NotImplementedError, match="no 'slide'"):
        model.slide_inference(x, metas)
    with pytest.raises(NotImplementedError, match='test-time augmentation'):
        model.aug_test(x, metas)
    # the 'whole' inference is the tensor mode's output
    with torch.no_grad():
        torch.testing.assert_close(model.inference(x, metas)['depth'],
                                   model(x, mode='tensor')['depth'])


@pytest.mark.parametrize('fuse_bn,channels_last',
                         [(True, False), (False, True), (True, True)])
def test_optimize_for_inference_keeps_outputs(fuse_bn, channels_last):
    from mmtlsi.models import optimize_for_inference
    torch.manual_seed(0)
    model = tiny_model()
    # non-trivial running statistics, so that folding has work to do
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(2, 3, 64, 64) * 3 + 1, mode='tensor')
    model.eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        before = model(x, mode='tensor')
        optimize_for_inference(model, fuse_bn=fuse_bn,
                               channels_last=channels_last)
        after = model(x, mode='tensor')
    bns = [m for m in model.modules()
           if isinstance(m, torch.nn.BatchNorm2d)]
    if fuse_bn:
        # every BN2d follows a conv and is folded
        assert not bns
    for t in before:
        torch.testing.assert_close(after[t], before[t], rtol=1e-4,
                                   atol=1e-4)
    with pytest.raises(ValueError, match='eval'):
        optimize_for_inference(tiny_model().train())


def test_concat_channels_last():
    from mmtlsi.models.decode_heads.mtlsi_head import concat_channels_last
    a, b = torch.randn(2, 3, 4, 5), torch.randn(2, 1, 4, 5)
    out = concat_channels_last([a, b])
    assert torch.equal(out, torch.cat([a, b], 1))
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_task_the_dataset_lacks_is_named_with_the_dataset_tasks():
    model = tiny_model(['semseg', 'human_parts'])
    samples = make_samples(['semseg'], 2, 32, 32)
    for s in samples:
        s.set_metainfo(dict(tasks=['semseg', 'depth']))
    with pytest.raises(ValueError) as e:
        model(torch.randn(2, 3, 32, 32), samples, mode='loss')
    msg = str(e.value)
    assert "task 'human_parts'" in msg
    assert "provides only ['semseg', 'depth']" in msg
