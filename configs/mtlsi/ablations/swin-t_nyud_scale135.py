# Table III: multi-scale queries {1, 3, 5}, NYUDv2, K = 1024.
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(num_tokens=1024, fusion=dict(scales=(1, 3, 5))))
