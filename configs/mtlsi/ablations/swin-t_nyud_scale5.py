# Table III: MT-MQLFB with single-scale queries (kernel 5), NYUDv2, K = 1024.
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(num_tokens=1024, fusion=dict(scales=(5, ))))
