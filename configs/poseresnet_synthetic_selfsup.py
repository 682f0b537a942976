# Self-supervised Pose ResNet on the embedded dataset (CPU-sized): stages 2
# and 3 of the method from one training command,
#   python tools/train.py configs/poseresnet_synthetic_selfsup.py
# given the stage-1 checkpoint named in `pseudo_labels.teacher_checkpoint`
# (tools/selfsup_pipeline.py trains it first). The canonical model-zoo
# config holds everything; this name is the short one.
_base_ = [
    'body_3d_keypoint/pose_resnet/synthetic/'
    'td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py'
]
