# Ablation row "+ distiller and CWIB": the full model, i.e. the demo config
# unchanged (MT-MQLFB with scales {1, 3, 5}, distiller, CWIB).
_base_ = ['../mtlsi_tiny_synthetic-nyud.py']
