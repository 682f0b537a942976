# Table 4 ablation: self-supervised Pose ResNet without synthetic occlusion.
_base_ = ['./td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py']

train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='EpipolarPseudoLabel', label_file={{_base_.pseudo_label_file}}),
    dict(type='GetBBoxCenterScale'),
    dict(type='AttachKeypointDepth'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.75, 1.25),
        rotate_factor=30),
    dict(type='ContiguousTopdownAffine', input_size={{_base_.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
