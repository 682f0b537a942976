# Pose ResNet: ResNet-50 with CBAM before layer1 and after layer4, a WASP
# neck, three deconvolutions to a 16 x 64 x 64 x 64 volumetric heatmap, and
# soft-argmax (integral regression).
input_size = (256, 256)
num_keypoints = 16
depth_bins = 64

codec = dict(type='VolumetricIntegralLabel', input_size=input_size)

model = dict(
    type='TopdownVolumetricEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='CBAMResNet',
        depth=50,
        cbam_positions=('before_layer1', 'after_layer4'),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
    ),
    neck=dict(
        type='WASP',
        in_channels=2048,
        out_channels=2048,
        branch_channels=256,
        dilations=(1, 2, 3, 4)),
    head=dict(
        type='VolumetricHeatmapHead',
        in_channels=2048,
        num_keypoints=num_keypoints,
        depth_bins=depth_bins,
        loss=dict(type='MaskedSmoothL1Loss', beta=0.01),
        decoder=codec),
    test_cfg=dict(flip_test=True))
