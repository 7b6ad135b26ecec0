# Fig. 3: 1024 semantic tokens per task in the Semantic Token Distiller. Also
# the {1, 3, 5} row of Table III (NYUDv2 runs Table III with K = 1024). The
# K = 512 point of Fig. 3 is ../swin-t_nyud.py.
_base_ = ['../swin-t_nyud.py']
model = dict(decode_head=dict(num_tokens=1024))
