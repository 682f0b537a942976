# Table 4 ablation: self-supervised Pose ResNet without the WASP neck (the
# deconvolution head reads CBAM-ResNet-50's features directly).
_base_ = ['./td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py']

model = dict(neck=None)
selfsup_pipeline = dict(pretrain_options=dict(model=dict(neck=None)))
