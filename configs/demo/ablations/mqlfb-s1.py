# Ablation row "+ MT-MQLFB, scales {1}": the fused tokens, back on each task's
# map, are added to P_t before the output decoders; no distiller, no CWIB.
_base_ = ['../mtlsi_tiny_synthetic-nyud.py']
model = dict(
    decode_head=dict(fusion=dict(scales=(1, )), distiller_cwib=False))
