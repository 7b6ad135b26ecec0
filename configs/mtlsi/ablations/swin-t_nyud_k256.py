# Fig. 3: 256 semantic tokens per task in the Semantic Token Distiller (the
# K = 512 point is ../swin-t_nyud.py).
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(num_tokens=256))
