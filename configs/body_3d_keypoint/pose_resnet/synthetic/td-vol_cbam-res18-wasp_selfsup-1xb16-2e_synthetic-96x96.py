# Self-supervised Pose ResNet on the embedded multi-view dataset: the 3D
# label of each training view is triangulated by the epipolar engine from
# the stage-1 2D model's predictions in the four views of the same instant
# (one relative pose per camera pair, pooled over each sequence); no 3D
# ground truth or extrinsics are read. PseudoLabelHook builds the labels
# before training (and rebuilds them when the teacher or an option
# changes), so with a stage-1 checkpoint in place
#   python tools/train.py THIS_CONFIG
# is the whole of stages 2 and 3; all three stages:
#   python tools/selfsup_pipeline.py THIS_CONFIG --work-dir work_dirs/selfsup_synthetic
_base_ = ['./td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py']

selfsup_pipeline = dict(
    pretrain_config='td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py')
pseudo_label_file = 'work_dirs/selfsup_synthetic/pseudo_labels.npz'
pseudo_labels = dict(
    label_file=pseudo_label_file,
    # What stage 1 writes (tools/selfsup_pipeline.py --work-dir
    # work_dirs/selfsup_synthetic); load_from is unset, so the 3D network
    # starts from these weights too (transfer learning).
    teacher_checkpoint='work_dirs/selfsup_synthetic/stage1_2d/epoch_4.pth',
    mode='pooled',
    views=2,
    # 256 x 256 images: a 4 px reprojection threshold is 15 px at H36M's
    # 1000 x 1002.
    reproj_thresh=4.0)
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
        scale_factor=(0.9, 1.1),
        rotate_factor=0),
    dict(type='ContiguousTopdownAffine', input_size={{_base_.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    dataset=dict(mode='self_supervised', pipeline=train_pipeline))
