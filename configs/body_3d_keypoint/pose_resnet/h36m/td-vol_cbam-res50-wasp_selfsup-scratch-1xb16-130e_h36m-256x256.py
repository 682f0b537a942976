# Table 4 ablation: self-supervised Pose ResNet without transfer learning:
# stage 1 (MPII 2D) still makes the pseudo-labels, but the 3D network starts
# from ImageNet weights instead of the stage-1 weights.
_base_ = ['./td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py']

pseudo_labels = dict(init_from_teacher=False)
