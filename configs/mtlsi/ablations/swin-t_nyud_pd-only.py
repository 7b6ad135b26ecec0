# Fig. 3 baseline "PD": preliminary decoders only; no fusion, no distiller,
# no CWIB, no output decoder; the coarse predictions are the output.
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(fusion=None))
