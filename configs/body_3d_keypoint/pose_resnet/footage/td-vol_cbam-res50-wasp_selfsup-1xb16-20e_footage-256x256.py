# Pose ResNet trained self-supervised on one's own synchronised cameras
# ("Your own cameras"): the paper's self-supervised network and training
# (CBAM-ResNet-50 + WASP + volumetric head, smooth-L1 on epipolar
# pseudo-labels, synthetic occlusion), on the views of one recording
# (FootageMultiViewDataset) instead of Human3.6M. No 3D ground truth and
# no extrinsics: the cameras' intrinsics only.
#
# tools/footage_pipeline.py writes the inputs into its work dir (decoded
# frames, the views file, the pseudo-label file) and trains this config.
# The top-level variables below only set the defaults: MMEngine resolves
# them when the file is read, so a run changes the values where they are
# used (--cfg-options, or the same keys in code):
#   train_dataloader.dataset.data_root        footage_dir
#   train_dataloader.dataset.ann_file         views_file (in data_root)
#   train_dataloader.dataset.calib_file       calib_file (absolute, or in
#                                             data_root)
#   train_dataloader.dataset.data_prefix.img  image_root (in data_root)
#   train_dataloader.dataset.pipeline.1.label_file   pseudo_label_file
#                                             (EpipolarPseudoLabel)
#   train_dataloader.dataset.pipeline.7.bank_file    occluder_bank
#                                             (SyntheticOcclusion)
#   load_from                                 the 2D checkpoint
_base_ = ['../h36m/td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256.py']

footage_dir = 'work_dirs/footage/'
views_file = 'footage_views.npz'
calib_file = 'calibration.toml'
image_root = 'frames/'
pseudo_label_file = footage_dir + 'pseudo_labels.npz'
# Pascal VOC objects (see the H36M config): python
# tools/dataset_converters/extract_voc_occluders.py --voc-root
# VOCdevkit/VOC2012 --out data/occluders/voc_occluders.npz
occluder_bank = 'data/occluders/voc_occluders.npz'

# The labels are made by the footage pipeline (the pooled epipolar engine
# over the static rig, from the 2D of any teacher), not by
# PseudoLabelHook, and this config is not a stage of
# tools/selfsup_pipeline.py.
selfsup_pipeline = None
pseudo_labels = None
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='UnreadableImageHook', max_skip_ratio=0.01),
]
# Initialised from a 2D checkpoint of this architecture (transfer learning,
# as in the paper): by default what
#   python tools/train.py configs/body_3d_keypoint/pose_resnet/mpii/td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256.py
# writes (stage 1, MPII 2D pre-training); the footage pipeline sets it.
load_from = ('work_dirs/td-vol_cbam-res50-wasp_1xb16-130e_mpii-256x256/'
             'epoch_130.pth')
# Every weight comes from there: no ImageNet initialisation (nor download).
model = dict(backbone=dict(init_cfg=None))

# A recording of a few thousand views (e.g. 4 cameras x 1000 frames: 250
# iterations an epoch at batch 16) fine-tunes a 2D-initialised network in
# 20 epochs, about 5000 iterations. The paper's schedule scaled to it:
# Adam, lr 1e-3, x0.1 at epochs 13 and 17 (the paper's 84 and 111 of 130),
# after a warm-up over the first epoch (in iterations, whatever the
# recording's length).
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        begin=0,
        end=1,
        start_factor=0.001,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        milestones=[13, 17],
        gamma=0.1,
        by_epoch=True)
]
# Footage has no 3D ground truth: no validation or test split, no best
# checkpoint; the last epoch's checkpoint is the model.
default_hooks = dict(checkpoint=dict(interval=10, save_best=None, rule=None))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

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
    dict(type='SyntheticOcclusion', bank_file=occluder_bank, prob=0.5),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
dataset_type = 'FootageMultiViewDataset'
data_root = footage_dir
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file=views_file,
        calib_file=calib_file,
        data_prefix=dict(img=image_root),
        # Every view needs a row in the label file (EpipolarPseudoLabel
        # fails on one without); views with a bad box are left out and
        # counted in the log.
        pipeline=train_pipeline))
