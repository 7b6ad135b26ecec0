# Preliminary decoders only, PASCAL-Context.
_base_ = ['../swin-t_pascal.py']
model = dict(decode_head=dict(fusion=None))
