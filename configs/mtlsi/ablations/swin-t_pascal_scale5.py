# Table III: MT-MQLFB with single-scale queries (kernel 5), PASCAL-Context,
# K = 512. The {1, 3, 5} row of the table is ../swin-t_pascal.py.
_base_ = ['../swin-t_pascal.py']
model = dict(decode_head=dict(fusion=dict(scales=(5, ))))
