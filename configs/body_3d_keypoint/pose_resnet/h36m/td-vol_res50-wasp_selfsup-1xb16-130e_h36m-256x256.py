# Table 4 ablation: self-supervised Pose ResNet without CBAM (plain ResNet-50
# backbone; WASP, synthetic occlusion and transfer learning kept). Its stage
# 1 is the MPII pre-training of the same architecture.
_base_ = ['./td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py']

model = dict(backbone=dict(cbam_positions=()))
selfsup_pipeline = dict(pretrain_options=dict(
    model=dict(backbone=dict(cbam_positions=()))))
