# Pose ResNet, self-supervised on multi-view Human3.6M: the paper's main
# result (74.6 mm MPJPE on S9/S11), no 3D labels and no extrinsics. With the
# stage-1 (MPII 2D) checkpoint named in `pseudo_labels.teacher_checkpoint`,
#   python tools/train.py configs/poseresnet_h36m_selfsup.py
# builds the pseudo-labels (PseudoLabelHook) and trains; the canonical
# model-zoo config holds everything, this is its short name.
_base_ = [
    'body_3d_keypoint/pose_resnet/h36m/'
    'td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py'
]
