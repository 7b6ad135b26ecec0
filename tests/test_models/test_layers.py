"""Shapes and exact values of MTLSI-Net's building blocks."""
import pytest
import torch
import torch.nn.functional as F

import mmtlsi  # noqa: F401
from mmtlsi.models.layers import (
    CWIB,
    RelativePositionBias,
    SemanticTokenDistiller,
    TaskDecoder,
    elu_feature_map,
    linear_attention,
    pad_to_windows,
    window_partition,
    window_reverse,
)
from mmtlsi.models.necks import MTMQLFB, CrossTaskAttention


def test_linear_attention_equals_explicit_quadratic_form():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 7, 5), torch.randn(2, 3, 11, 5), \
        torch.randn(2, 3, 11, 4)
    # without reassociation: (phi(Q) phi(K)^T) V, row-normalised
    scores = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)
    expected = (scores @ v) / scores.sum(-1, keepdim=True)
    torch.testing.assert_close(linear_attention(q, k, v, eps=0.0), expected,
                               rtol=1e-5, atol=1e-6)


def test_linear_attention_is_a_convex_combination_of_values():
    q, k = torch.randn(1, 4, 3), torch.randn(1, 9, 3)
    v = torch.ones(1, 9, 2)
    torch.testing.assert_close(linear_attention(q, k, v), torch.ones(1, 4, 2))


def test_elu_feature_map_is_positive():
    assert (elu_feature_map(torch.linspace(-10, 10, 101)) > 0).all()
    assert (elu_feature_map(torch.linspace(-100, 0, 11)) >= 0).all()


@pytest.mark.parametrize('hw,ws', [((8, 12), (4, 3)), ((7, 10), (4, 4))])
def test_window_partition_reverse_identity(hw, ws):
    x = torch.randn(2, *hw, 5)
    padded, (ph, pw) = pad_to_windows(x, ws)
    assert padded.shape[1] % ws[0] == 0 and padded.shape[2] % ws[1] == 0
    windows = window_partition(padded, ws)
    assert windows.shape[1:] == (ws[0] * ws[1], 5)
    back = window_reverse(windows, ws, hw[0] + ph, hw[1] + pw)
    assert torch.equal(back[:, :hw[0], :hw[1]], x)
    # the first window holds the top-left block, row-major
    torch.testing.assert_close(windows[0].view(*ws, 5),
                               padded[0, :ws[0], :ws[1]])


def test_task_decoder_shapes():
    dec = TaskDecoder([8, 16, 32], 12, 5, lateral_kernel=(1, 1, 3),
                      num_convs=2)
    feats = [torch.randn(2, 8, 16, 20), torch.randn(2, 16, 8, 10),
             torch.randn(2, 32, 4, 5)]
    feat, pred = dec(feats)
    assert feat.shape == (2, 12, 16, 20) and pred.shape == (2, 5, 16, 20)
    assert dec.laterals[0].conv.kernel_size == (1, 1)
    assert dec.laterals[2].conv.kernel_size == (3, 3)


def test_distiller_assignment_sums_to_one_and_shapes():
    distiller = SemanticTokenDistiller(16, num_tokens=6).eval()
    tokens = torch.randn(2, 40, 16)
    a = distiller.assignment(tokens)
    assert a.shape == (2, 6, 40)
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 6))
    out = distiller(tokens)
    assert out.shape == (2, 6, 16)
    torch.testing.assert_close(out, a @ distiller.proj(tokens))


@pytest.mark.parametrize('hw', [(8, 8), (7, 10)])
def test_cwib_shape_and_padding_mask(hw):
    torch.manual_seed(0)
    block = CWIB(16, num_heads=2, window_size=(4, 4), num_tokens=5,
                 rel_pos_bias=False).eval()
    assert block.rel_pos is None
    p = torch.randn(2, 16, *hw)
    tokens = torch.randn(2, 5, 16)
    x = block(p, tokens)
    assert x.shape == p.shape and torch.isfinite(x).all()
    # padded pixels are masked: the top-left window's output does not change
    # when the map is cropped to that window (an unmasked zero-pad would)
    q = torch.randn(1, 10, 4, 16)
    out = block._window_attention(q[:, :7].flatten(1, 2),
                                  q[:, :7].flatten(1, 2),
                                  q[:, :7].flatten(1, 2), (7, 4))
    ref = block._window_attention(q[:, :4].flatten(1, 2),
                                  q[:, :4].flatten(1, 2),
                                  q[:, :4].flatten(1, 2), (4, 4))
    torch.testing.assert_close(out[:, :16], ref)
    tail = q[:, 4:7].flatten(1, 2)
    torch.testing.assert_close(
        out[:, 16:],
        F.scaled_dot_product_attention(
            tail.view(1, 12, 2, 8).transpose(1, 2),
            tail.view(1, 12, 2, 8).transpose(1, 2),
            tail.view(1, 12, 2, 8).transpose(1, 2)).transpose(1, 2)
        .reshape(1, 12, 16))


def test_mt_mqlfb_matches_its_equations():
    torch.manual_seed(0)
    neck = MTMQLFB(8, scales=(1, 3), num_heads=1).eval()
    feats = [torch.randn(1, 8, 6, 5) for _ in range(3)]
    out = neck(feats)
    n = 3 * 3 * 3                   # T * ceil(6/2) * ceil(5/2)
    assert out.shape == (1, n, 8)
    # explicit, single head, no reassociation
    m = torch.cat([F.avg_pool2d(f, 2, ceil_mode=True).flatten(2)
                   .transpose(1, 2) for f in feats], 1)
    k, v = neck.kv(neck.norm_kv(m)).chunk(2, -1)
    outs = []
    for conv in neck.query_convs:
        g = torch.cat([conv(f).flatten(2).transpose(1, 2) for f in feats], 1)
        q = neck.q(neck.norm_q(g))
        s = elu_feature_map(q) @ elu_feature_map(k).transpose(1, 2)
        outs.append(s @ v / s.sum(-1, keepdim=True))
    o = neck.out_proj(torch.cat(outs, -1))
    torch.testing.assert_close(out, o + neck.mlp(o), rtol=1e-4, atol=1e-5)


def test_cross_task_attention_shape():
    neck = CrossTaskAttention(8, num_heads=2)
    out = neck([torch.randn(2, 8, 6, 6) for _ in range(2)])
    assert out.shape == (2, 2 * 9, 8)


def test_relative_position_bias_reads_the_table_at_each_offset():
    rpb = RelativePositionBias((2, 3), num_heads=2)
    assert rpb.table.shape == (3 * 5, 2)
    with torch.no_grad():
        rpb.table.copy_(torch.arange(30.).view(15, 2))
    bias = rpb()
    assert bias.shape == (2, 6, 6)
    for i in range(6):
        for j in range(6):
            dy, dx = i // 3 - j // 3, i % 3 - j % 3   # row-major tokens
            row = (dy + 1) * 5 + (dx + 2)
            assert bias[:, i, j].tolist() == [2 * row, 2 * row + 1]
    # one parameter per offset and head; the gradient gathers every use
    bias.sum().backward()
    counts = torch.zeros(15)
    for i in range(6):
        for j in range(6):
            counts[(i // 3 - j // 3 + 1) * 5 + i % 3 - j % 3 + 2] += 1
    torch.testing.assert_close(rpb.table.grad, counts[:, None].expand(15, 2))


def _explicit_window_attention(q, k, v, heads, bias=None):
    """(1, n, C) one window -> softmax(q k^T / sqrt(d_h) + B) v per head."""
    n, c = q.shape[1:]
    split = [t.view(n, heads, c // heads).transpose(0, 1) for t in (q, k, v)]
    logits = split[0] @ split[1].transpose(1, 2) / (c // heads) ** 0.5
    if bias is not None:
        logits = logits + bias
    return (logits.softmax(-1) @ split[2]).transpose(0, 1).reshape(1, n, c)


def test_cwib_window_attention_adds_the_position_bias():
    torch.manual_seed(0)
    block = CWIB(16, num_heads=2, window_size=(4, 4), num_tokens=5).eval()
    with torch.no_grad():
        block.rel_pos.table.normal_()
    bias = block.rel_pos()
    q, k, v = (torch.randn(1, 7, 4, 16) for _ in range(3))
    out = block._window_attention(*(t.flatten(1, 2) for t in (q, k, v)),
                                  (7, 4))
    # the full top window
    top = [t[:, :4].flatten(1, 2) for t in (q, k, v)]
    torch.testing.assert_close(
        out[:, :16], _explicit_window_attention(*top, 2, bias))
    # the bottom window holds 3 real rows; the padded row's keys are masked,
    # so it is attention over the 12 real tokens with their part of B
    tail = [t[:, 4:].flatten(1, 2) for t in (q, k, v)]
    torch.testing.assert_close(
        out[:, 16:], _explicit_window_attention(*tail, 2, bias[:, :12, :12]))
    # the bias changes the output (it is not silently ignored)
    plain = CWIB(16, num_heads=2, window_size=(4, 4), num_tokens=5,
                 rel_pos_bias=False).eval()
    ref = plain._window_attention(*(t.flatten(1, 2) for t in (q, k, v)),
                                  (7, 4))
    assert (out - ref).abs().max() > 1e-2


def test_mt_mqlfb_defaults_to_one_global_context():
    torch.manual_seed(0)
    one = MTMQLFB(16).eval()
    assert one.num_heads == 1
    eight = MTMQLFB(16, num_heads=8).eval()
    eight.load_state_dict(one.state_dict())   # same weights, other model
    feats = [torch.randn(1, 16, 6, 6) for _ in range(3)]
    with torch.no_grad():
        assert (one(feats) - eight(feats)).abs().max() > 1e-3
