# Table III: multi-scale queries {1, 3, 5}, PASCAL-Context, K = 512.
_base_ = ['../swin-t_pascal.py']
model = dict(decode_head=dict(num_tokens=512, fusion=dict(scales=(1, 3, 5))))
