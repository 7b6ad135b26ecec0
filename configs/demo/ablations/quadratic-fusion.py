# Ablation row "quadratic fusion": the full model with MT-MQLFB replaced by
# full softmax attention over all tasks' stride-8 tokens (CrossTaskAttention).
_base_ = ['../mtlsi_tiny_synthetic-nyud.py']
model = dict(
    decode_head=dict(
        fusion=dict(
            _delete_=True, type='CrossTaskAttention', num_heads=4,
            pool_stride=2, mlp_ratio=4.0)))
