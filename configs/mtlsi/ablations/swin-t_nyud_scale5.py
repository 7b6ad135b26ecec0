# Table III: MT-MQLFB with single-scale queries (kernel 5), NYUDv2, K = 1024.
# The {1, 3, 5} row of the table is swin-t_nyud_k1024.py.
_base_ = ['./swin-t_nyud_k1024.py']
model = dict(decode_head=dict(fusion=dict(scales=(5, ))))
