# Pose ResNet, fully supervised on Human3.6M (the paper's 51.8 mm MPJPE):
# the twin of configs/poseresnet_h36m_selfsup.py, trained on the ground
# truth 3D. Short name of the canonical model-zoo config.
_base_ = [
    'body_3d_keypoint/pose_resnet/h36m/'
    'td-vol_cbam-res50-wasp_1xb16-130e_h36m-256x256.py'
]
