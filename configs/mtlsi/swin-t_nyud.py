# MTLSI-Net, Swin-T (ImageNet-22K), NYUDv2: 448x576 crops, batch 8, 40k
# iterations. The backbone is the base's Swin-T (_base_/models/mtlsi_swin.py).
_base_ = ['../_base_/mtlsi_nyud.py']
