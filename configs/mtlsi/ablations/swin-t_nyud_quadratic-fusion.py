# MT-MQLFB replaced by full softmax self-attention over all tasks' stride-8
# tokens (O((T*N)^2 d); the DeMT / InvPT-style interaction).
_base_ = ['../swin-t_nyud.py']
model = dict(
    decode_head=dict(
        fusion=dict(
            _delete_=True, type='CrossTaskAttention', num_heads=8,
            pool_stride=2, mlp_ratio=4.0)))
