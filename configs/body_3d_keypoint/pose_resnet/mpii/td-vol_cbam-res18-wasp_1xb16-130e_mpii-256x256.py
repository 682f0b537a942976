# Table 3 of the paper: 2D pre-training on MPII with a ResNet-18 backbone
# (CBAM + WASP + volumetric head as in the ResNet-50 model).
_base_ = ['./td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py']

model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=512, out_channels=512),
    head=dict(in_channels=512))
