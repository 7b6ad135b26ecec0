# MTLSI-Net, Swin-T (ImageNet-22K), PASCAL-Context: 512x512 crops, batch 4,
# 40k iterations. The backbone is the base's Swin-T
# (_base_/models/mtlsi_swin.py).
_base_ = ['../_base_/mtlsi_pascal.py']
