# The quick start's self-supervised run (tools/quickstart.py): as
# td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py (epipolar
# pseudo-labels from the stage-1 2D model's predictions in the four views
# of each instant, no 3D ground truth or extrinsics), with the network
# width, iterations, precision, data loading and learning rate of
# td-vol_cbam-res18-w32-wasp_bf16-1xb16-2e_synthetic-96x96.py; the stage-1
# teacher predicts the 2D of the labels in bfloat16 too (amp). All three
# stages:
#   python tools/selfsup_pipeline.py THIS_CONFIG --work-dir work_dirs/selfsup_synthetic_bf16
_base_ = ['./td-vol_cbam-res18-w32-wasp_bf16-1xb16-2e_synthetic-96x96.py']

selfsup_pipeline = dict(
    pretrain_config='td-vol_cbam-res18-w32-wasp_2d-bf16-1xb16-8e_synthetic-96x96.py')
pseudo_label_file = 'work_dirs/selfsup_synthetic_bf16/pseudo_labels.npz'
pseudo_labels = dict(
    label_file=pseudo_label_file,
    # What stage 1 writes (tools/selfsup_pipeline.py --work-dir
    # work_dirs/selfsup_synthetic_bf16); load_from is unset, so the 3D
    # network starts from these weights too (transfer learning).
    teacher_checkpoint='work_dirs/selfsup_synthetic_bf16/stage1_2d/epoch_8.pth',
    mode='pooled',
    views=2,
    # 256 x 256 images: a 4 px reprojection threshold is 15 px at H36M's
    # 1000 x 1002.
    reproj_thresh=4.0,
    amp=True)
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='UnreadableImageHook', max_skip_ratio=0.01),
    dict(type='PseudoLabelHook'),
]

train_pipeline = [
    dict(type='LoadImageOrSkip', cache_mb={{_base_.image_cache_mb}}),
    dict(type='EpipolarPseudoLabel', label_file=pseudo_label_file),
    dict(type='GetBBoxCenterScale'),
    dict(type='AttachKeypointDepth'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='FastRandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.9, 1.1),
        rotate_factor=0),
    dict(type='ContiguousTopdownAffine', input_size={{_base_.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    dataset=dict(mode='self_supervised', pipeline=train_pipeline))
