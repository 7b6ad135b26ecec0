# CWIB's window attention without Swin's relative position bias (plain
# dot-product attention inside each window).
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(cwib=dict(rel_pos_bias=False)))
