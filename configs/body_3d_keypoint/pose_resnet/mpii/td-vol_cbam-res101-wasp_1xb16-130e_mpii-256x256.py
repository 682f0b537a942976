# Table 3 of the paper: 2D pre-training on MPII with a ResNet-101 backbone
# (CBAM + WASP + volumetric head as in the ResNet-50 model).
_base_ = ['./td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py']

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')),
    neck=dict(in_channels=2048, out_channels=2048),
    head=dict(in_channels=2048))
