# Ablation row "preliminary decoders only": no fusion, no distiller, no CWIB,
# no output decoders; the coarse predictions are the output.
_base_ = ['../mtlsi_tiny_synthetic-nyud.py']
model = dict(decode_head=dict(fusion=None))
