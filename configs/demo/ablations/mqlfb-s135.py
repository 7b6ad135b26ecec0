# Ablation row "+ MT-MQLFB, scales {1, 3, 5}": as mqlfb-s1.py with the
# paper's three query scales; no distiller, no CWIB.
_base_ = ['../mtlsi_tiny_synthetic-nyud.py']
model = dict(
    decode_head=dict(fusion=dict(scales=(1, 3, 5)), distiller_cwib=False))
