"""Shapes and exact values of MTLSI-Net's building blocks."""
import pytest
import torch
import torch.nn.functional as F

import mmtlsi  # noqa: F401
from mmtlsi.models.layers import (
    CWIB,
    MTMQLFB,
    CrossTaskAttention,
    RelativePositionBias,
    SemanticTokenDistiller,
    TaskDecoder,
    elu_feature_map,
    linear_attention_context,
    merge_heads,
    pad_to_windows,
    split_heads,
    tasks_to_tokens,
    window_partition,
    window_reverse,
)


def test_linear_attention_context_by_hand():
    k = torch.tensor([[0.0, 1.0], [-1.0, 2.0], [3.0, -2.0]])
    v = torch.tensor([[1.0], [2.0], [-1.0]])
    context, key_sum = linear_attention_context(k, v)
    phi = torch.tensor([[1.0, 2.0], [torch.e ** -1, 3.0],
                        [4.0, torch.e ** -2]])           # ELU(x) + 1
    torch.testing.assert_close(context, phi.t() @ v)
    torch.testing.assert_close(key_sum, phi.sum(0))


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


def _concat_then_fuse(dec, feats):
    """The decoder's definition: resize every lateral output to the first
    input's size, concatenate on channels, 1x1 conv block, convs."""
    size = feats[0].shape[2:]
    maps = [F.interpolate(lat(x), size=size, mode='bilinear',
                          align_corners=False) if x.shape[2:] != size
            else lat(x) for x, lat in zip(feats, dec.laterals)]
    x = dec.convs(dec.fuse(torch.cat(maps, 1)))
    return x, dec.predictor(x)


@pytest.mark.parametrize('norm_cfg', [dict(type='BN'), None])
def test_task_decoder_fuses_without_the_concat_as_with_it(norm_cfg):
    torch.manual_seed(0)
    dec = TaskDecoder([8, 16, 32], 12, 5, lateral_kernel=(1, 3, 3),
                      num_convs=1, norm_cfg=norm_cfg)
    # odd sizes: the resize is not a whole factor
    feats = [torch.randn(2, 8, 15, 21), torch.randn(2, 16, 8, 11),
             torch.randn(2, 32, 4, 6)]
    if norm_cfg:
        for m in dec.modules():      # statistics other than 0 and 1
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    dec.eval()
    with torch.no_grad():
        for got, want in zip(dec(feats), _concat_then_fuse(dec, feats)):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # training mode: same outputs (batch statistics) and same gradients
    dec.train()
    grads = []
    for forward in (dec, lambda f: _concat_then_fuse(dec, f)):
        dec.zero_grad()
        feat, pred = forward(feats)
        (feat.square().mean() + pred.sin().sum()).backward()
        grads.append({n: p.grad.clone() for n, p in dec.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name],
                                   rtol=1e-4, atol=1e-5, msg=name)


def test_distiller_assignment_sums_to_one_and_shapes():
    distiller = SemanticTokenDistiller(16, num_tokens=6).eval()
    tokens = torch.randn(2, 40, 16)
    a = distiller.assignment(tokens)
    assert a.shape == (2, 6, 40)
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 6))
    out = distiller(tokens)
    assert out.shape == (2, 6, 16)
    torch.testing.assert_close(out, a @ distiller.proj(tokens))


def _window_attention(block, q, k, v, hw):
    """CWIB's window branch for q, k, v (B, H*W, d) -> (B, H*W, d)."""
    b, _, c = q.shape
    return block._window_attention(
        torch.cat([q, k, v], -1).view(b, *hw, 3 * c))


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
    out = _window_attention(block, q[:, :7].flatten(1, 2),
                            q[:, :7].flatten(1, 2),
                            q[:, :7].flatten(1, 2), (7, 4))
    ref = _window_attention(block, q[:, :4].flatten(1, 2),
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


def _mt_mqlfb_explicit(neck, feats, heads):
    """Eq. 2-4 as written, per scale and head, without reassociation:
    (phi(Q) phi(K)^T) V row-normalised, Concat_s(O_s) W_O, + MLP."""
    def tokens(maps):
        return torch.cat([x.flatten(2).transpose(1, 2) for x in maps], 1)

    def split(x):
        return x.view(*x.shape[:2], heads, -1).transpose(1, 2)

    m = tokens([F.avg_pool2d(f, 2, ceil_mode=True) for f in feats])
    k, v = (split(t) for t in neck.kv(neck.norm_kv(m)).chunk(2, -1))
    outs = []
    for conv in neck.query_convs:
        q = split(neck.q(neck.norm_q(tokens([conv(f) for f in feats]))))
        s = elu_feature_map(q) @ elu_feature_map(k).transpose(-1, -2)
        o = s @ v / s.sum(-1, keepdim=True)
        outs.append(o.transpose(1, 2).flatten(2))
    o = neck.out_proj(torch.cat(outs, -1))
    return o + neck.mlp(o)


@pytest.mark.parametrize('heads', [1, 4])
def test_mt_mqlfb_matches_its_equations(heads):
    torch.manual_seed(0)
    neck = MTMQLFB(8, scales=(1, 3), num_heads=heads, eps=0.0)
    neck.train()           # BN in batch mode: the same in both forwards
    feats = [torch.randn(2, 8, 6, 5, requires_grad=True) for _ in range(3)]
    out = neck(feats)
    n = 3 * 3 * 3                   # T * ceil(6/2) * ceil(5/2)
    assert out.shape == (2, n, 8)
    expected = _mt_mqlfb_explicit(neck, feats, heads)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    with torch.no_grad():                  # the in-place inference path
        torch.testing.assert_close(neck(feats), expected, rtol=1e-4,
                                   atol=1e-5)
    # and the same gradients, for inputs and every parameter
    weight = torch.randn_like(out)
    params = [feats[0], neck.q.weight, neck.kv.weight, neck.out_proj.weight,
              neck.out_proj.bias, neck.query_convs[1][0].weight]
    got = torch.autograd.grad((out * weight).sum(), params)
    want = torch.autograd.grad((expected * weight).sum(), params)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_tasks_to_tokens_order():
    maps = [torch.arange(12.).view(1, 2, 2, 3),
            torch.arange(100., 108.).view(1, 2, 2, 2)]
    tokens = tasks_to_tokens(maps)
    assert tokens.shape == (1, 10, 2)
    # task 0 row-major, then task 1; channels last
    assert tokens[0, 4].tolist() == [4.0, 10.0]
    assert tokens[0, 6].tolist() == [100.0, 104.0]
    assert torch.equal(tasks_to_tokens(
        [m.contiguous(memory_format=torch.channels_last) for m in maps]),
        tokens)


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
    """q (1, n, C), k, v (1, m, C) -> softmax(q k^T / sqrt(d_h) + B) v per
    head."""
    n, c = q.shape[1:]
    split = [t.view(-1, heads, c // heads).transpose(0, 1) for t in (q, k, v)]
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
    out = _window_attention(block, *(t.flatten(1, 2) for t in (q, k, v)),
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
    ref = _window_attention(plain, *(t.flatten(1, 2) for t in (q, k, v)),
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


def test_split_and_merge_heads():
    x = torch.arange(2 * 3 * 6, dtype=torch.float32).view(2, 3, 6)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 3, 2)
    # head i holds channels 2i, 2i+1 of every token
    assert torch.equal(heads[1, 2, 0], x[1, 0, 4:6])
    assert torch.equal(merge_heads(heads), x)
    # leading dimensions pass through (windows x batch)
    y = torch.randn(2, 5, 4, 8)
    assert torch.equal(merge_heads(split_heads(y, 4)), y)
    with pytest.raises(ValueError, match='6 channels do not split into 4'):
        split_heads(x, 4)


def _cwib_explicit(block, feature, tokens):
    """Eq. 7-11 written out: per window and per head, no fused kernels."""
    b, c, h, w = feature.shape
    heads, (wh, ww) = block.num_heads, block.window_size
    p = feature.flatten(2).transpose(1, 2)
    q, k, v = block.qkv(block.norm_p(p)).chunk(3, -1)
    bias = block.rel_pos()
    o_w = torch.zeros_like(q)
    for i in range(0, h, wh):
        for j in range(0, w, ww):
            idx = torch.tensor([y * w + x for y in range(i, i + wh)
                                for x in range(j, j + ww)])
            for n in range(b):
                o_w[n, idx] = _explicit_window_attention(
                    q[n:n + 1, idx], k[n:n + 1, idx], v[n:n + 1, idx], heads,
                    bias)[0]
    kc, vc = block.kv_cross(block.norm_tokens(tokens + block.pos_embed)) \
        .chunk(2, -1)
    o_c = torch.cat([_explicit_window_attention(
        q[n:n + 1], kc[n:n + 1], vc[n:n + 1], heads) for n in range(b)])
    z = block.merge(torch.cat([o_w, o_c], -1)) + p
    x = z + block.ffn(block.norm_z(z))
    return x.transpose(1, 2).reshape(b, c, h, w)


def test_cwib_matches_its_equations_forward_and_backward():
    torch.manual_seed(0)
    block = CWIB(16, num_heads=2, window_size=(2, 3), num_tokens=5)
    with torch.no_grad():
        block.rel_pos.table.normal_()
    feature = torch.randn(2, 16, 4, 6, requires_grad=True)
    tokens = torch.randn(2, 5, 16, requires_grad=True)
    out = block(feature, tokens)
    expected = _cwib_explicit(block, feature, tokens)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    weight = torch.randn_like(out)
    params = [feature, tokens, block.rel_pos.table, block.qkv.weight,
              block.pos_embed]
    got = torch.autograd.grad((out * weight).sum(), params)
    want = torch.autograd.grad((expected * weight).sum(), params)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
    # inference (no autograd: the fused attention kernel) and channels-last
    # input give the same output
    with torch.no_grad():
        torch.testing.assert_close(block(feature, tokens), expected)
        torch.testing.assert_close(
            block(feature.contiguous(memory_format=torch.channels_last),
                  tokens), expected)


def test_elu_feature_map_equals_elu_plus_one():
    x = torch.linspace(-30, 30, 1001, requires_grad=True)
    phi = elu_feature_map(x)
    torch.testing.assert_close(phi, F.elu(x) + 1)
    g, = torch.autograd.grad(phi.sum(), x)
    torch.testing.assert_close(g, torch.where(x > 0, 1.0, torch.exp(x)))
    with torch.no_grad():                  # the in-place path
        y = x.detach().clone()
        torch.testing.assert_close(elu_feature_map(y), F.elu(x) + 1)
        assert torch.equal(y, x)           # its input is left alone
