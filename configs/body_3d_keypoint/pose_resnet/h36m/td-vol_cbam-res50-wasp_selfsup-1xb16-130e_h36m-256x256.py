# Pose ResNet, self-supervised on multi-view Human3.6M (the paper's main
# result, 74.6 mm MPJPE): no 3D ground truth and no extrinsics. The 3D label
# of every training view is triangulated from the stage-1 2D model's
# predictions in all views of the same instant (PseudoLabelHook, pooled
# over each static camera set), and the network, initialised from the
# stage-1 weights, regresses it with smooth-L1 under synthetic occlusion.
#
# Stages 2 and 3, given the stage-1 checkpoint below:
#   python tools/train.py THIS_CONFIG
# The whole pipeline (stage 1 on MPII first):
#   python tools/selfsup_pipeline.py THIS_CONFIG --work-dir work_dirs/selfsup_h36m
_base_ = ['./td-vol_cbam-res50-wasp_1xb16-130e_h36m-256x256.py']

# The 2D pre-training config of stage 1 (tools/selfsup_pipeline.py).
selfsup_pipeline = dict(
    pretrain_config='../mpii/td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py')
pseudo_label_file = 'work_dirs/selfsup_h36m/pseudo_labels.npz'
# Stage 2 (PseudoLabelHook): the stage-1 model predicts 2D on the training
# views of this config; the engine triangulates them. load_from is unset,
# so the 3D network starts from the stage-1 weights (transfer learning).
pseudo_labels = dict(
    label_file=pseudo_label_file,
    # What `tools/selfsup_pipeline.py ... --work-dir work_dirs/selfsup_h36m`
    # writes in stage 1.
    teacher_checkpoint='work_dirs/selfsup_h36m/stage1_2d/epoch_130.pth',
    mode='pooled',
    views=2,
    reproj_thresh=15.0)
load_from = None
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='UnreadableImageHook', max_skip_ratio=0.01),
    dict(type='PseudoLabelHook'),
]

train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='EpipolarPseudoLabel', label_file=pseudo_label_file),
    dict(type='GetBBoxCenterScale'),
    dict(type='AttachKeypointDepth'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.75, 1.25),
        rotate_factor=30),
    dict(type='ContiguousTopdownAffine', input_size={{_base_.input_size}}),
    dict(type='SyntheticOcclusion', bank_file={{_base_.occluder_bank}},
         prob=0.5),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    dataset=dict(mode='self_supervised', pipeline=train_pipeline))
