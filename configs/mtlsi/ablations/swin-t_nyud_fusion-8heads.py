# MT-MQLFB with 8 heads: eight independent d/8-wide linear-attention contexts
# instead of the paper's single global d x d context phi(K)^T V.
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(fusion=dict(num_heads=8)))
