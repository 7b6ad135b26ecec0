import torch

from mmtlsi.utils.op_profile import (
    OTHER,
    OpDtypeRecorder,
    op_group,
    time_by_op_group,
)


def test_operator_kinds():
    assert op_group('aten::addmm') == 'matmul'
    assert op_group('convolution') == 'matmul'
    # the 1x1 convolutions PyTorch runs without oneDNN on one thread
    assert op_group('aten::_slow_conv2d_forward') == 'matmul'
    assert op_group('_scaled_dot_product_flash_attention_for_cpu') == \
        'matmul'
    assert op_group('aten::native_layer_norm') == 'norm'
    assert op_group('relu_') == 'activation'          # in-place form
    assert op_group('aten::_softmax') == 'softmax'
    assert op_group('upsample_bilinear2d.vec') == 'resize'
    assert op_group('_to_copy') == 'layout'
    # gradients belong to their forward's kind
    assert op_group('aten::convolution_backward') == 'matmul'
    assert op_group('native_layer_norm_backward') == 'norm'
    assert op_group('_softmax_backward_data') == 'softmax'
    assert op_group('threshold_backward') == 'activation'
    assert op_group('upsample_bilinear2d_backward') == 'resize'
    assert op_group('aten::_foreach_addcdiv_') == 'optimizer'
    assert op_group('add_') == OTHER
    assert op_group('aten::mul') == OTHER


def test_recorder_counts_bytes_by_dtype():
    linear = torch.nn.Linear(4, 3)
    recorder = OpDtypeRecorder()
    with torch.no_grad(), recorder:
        y = torch.relu(linear(torch.ones(2, 4)))      # (2, 3) fp32
        y.view(3, 2)                                   # a view: no bytes
        y.to(torch.bfloat16)                           # (2, 3) bf16
    # addmm writes 2 * 3 fp32 values, relu the same, the cast 6 bf16
    assert recorder.bytes_out[('addmm', 'float32')] == 24
    assert recorder.bytes_out[('relu', 'float32')] == 24
    assert recorder.bytes_out[('_to_copy', 'float32')] == 12
    assert recorder.bytes_out[('view', 'float32')] == 0
    assert recorder.calls[('view', 'float32')] == 1
    groups = recorder.by_group()
    assert groups['matmul'] == {'float32': dict(calls=1, bytes_out=24)}
    assert groups['activation'] == {'float32': dict(calls=1, bytes_out=24)}
    assert groups['layout']['float32'] == dict(calls=1, bytes_out=12)


def test_time_by_kind_adds_up_within_the_call():
    a, b = torch.randn(256, 256), torch.randn(256, 256)

    def fn():
        for _ in range(4):
            torch.relu(a @ b)

    seconds = time_by_op_group(fn, repeat=2)
    total = seconds.pop('total')
    assert seconds['matmul'] > 0 and seconds['activation'] > 0
    assert seconds['norm'] == 0 and seconds['softmax'] == 0
    # operator time is part of the call's wall time
    assert sum(seconds.values()) <= total * 1.05
