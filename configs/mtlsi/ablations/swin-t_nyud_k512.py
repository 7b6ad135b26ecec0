# Fig. 3: 512 semantic tokens per task in the Semantic Token Distiller.
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(num_tokens=512))
