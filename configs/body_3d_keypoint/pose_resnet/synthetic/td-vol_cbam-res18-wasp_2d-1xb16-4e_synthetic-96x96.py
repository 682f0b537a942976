# Stage 1 of the self-supervised pipeline on the embedded dataset: 2D
# pre-training. Same network and data as the supervised synthetic config,
# but the depth of the labels is never attached, so the codec gives zero z
# weights and only (x, y) are learned (what MPII pre-training does for
# Human3.6M). Evaluated by 2D PCK.
_base_ = ['./td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py']

train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='GetBBoxCenterScale'),
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=100, start_factor=0.01,
        by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        milestones=[3],
        gamma=0.1,
        by_epoch=True)
]
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
val_evaluator = dict(type='PCKAccuracy', thr=0.05, norm_item='bbox')
test_evaluator = val_evaluator
