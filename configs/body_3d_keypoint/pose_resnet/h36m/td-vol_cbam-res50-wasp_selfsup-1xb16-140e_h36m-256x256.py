# Pose ResNet, self-supervised on multi-view Human3.6M (the paper's main
# result, 74.6 mm MPJPE): no 3D ground truth and no extrinsics. The 3D label
# of every training view is triangulated from the stage-1 2D model's
# predictions in all views of the same instant (tools/make_pseudo_labels.py,
# pooled over each static camera set), and the network, initialised from the
# stage-1 weights, regresses it with smooth-L1 under synthetic occlusion.
#
# The whole pipeline (stage 1, pseudo-labels, stage 3):
#   python tools/selfsup_pipeline.py THIS_CONFIG
_base_ = ['./td-vol_cbam-res50-wasp_1xb16-140e_h36m-256x256.py']

# Where the pipeline's stages come from: the 2D pre-training config
# (stage 1) and the pseudo-label engine's settings (stage 2). The pipeline
# tool fills `load_from` and the label file.
selfsup_pipeline = dict(
    pretrain_config='../mpii/td-vol_cbam-res50-wasp_1xb16-140e_mpii-256x256.py',
    # Stage 2 runs the stage-1 model on the training views of this config.
    pseudo_labels=dict(mode='pooled', reproj_thresh=15.0, views=2),
)
pseudo_label_file = 'work_dirs/selfsup_h36m/pseudo_labels.npz'
load_from = 'work_dirs/selfsup_h36m/stage1/best.pth'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='EpipolarPseudoLabel', label_file=pseudo_label_file),
    dict(type='GetBBoxCenterScale'),
    dict(type='AttachKeypointDepth'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.75, 1.25),
        rotate_factor=30),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='SyntheticOcclusion', bank_file={{_base_.occluder_bank}},
         prob=0.5),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    dataset=dict(mode='self_supervised', pipeline=train_pipeline))
