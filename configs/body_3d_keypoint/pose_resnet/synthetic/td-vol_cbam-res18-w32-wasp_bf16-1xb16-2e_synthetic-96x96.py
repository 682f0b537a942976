# The quick start's fully supervised run (tools/quickstart.py): the
# network, data and 600 iterations of
# td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py at stage 1's half
# width (w32: the 3D network starts from its weights; 600 iterations gave
# what 1200 did with the same stage 1, seed 0: self-supervised 116.8
# against 118.6 mm, fully supervised 122.7 against 115.3, while 300 gave
# 148.6 and 139.8 after a 1500-iteration stage 1 whose 600 gave 136.8 and
# 131.2), with
# - the forward pass in bfloat16 (BF16OptimWrapper: oneDNN's BF16 kernels;
#   backward and Adam's step on the float32 weights) and Adam's fused CPU
#   kernel (0.008 against 0.025 s a step for the per-tensor loop);
# - the data loaded in the training process: on 2 cores a loader worker
#   competes with the two intra-op threads (full width: 0.15 against
#   0.18-0.19 s an iteration, benchmarks/quickstart_profile.py
#   --variants); the 2D pipeline costs about 2.7 ms a view (2026-12-03);
# - Adam at 2e-3, tenfold lower for the last quarter (with the above, the
#   quick start's 3D results were 151.9 / 137.5 mm against fp32 1e-3's
#   154.8 / 140.4; the learning rate was not compared alone);
# - the stem, the CBAM block before layer1 and layer1 frozen
#   (frozen_stages=1): initialised from the stage-1 2D model (load_from,
#   set by the quick start), their low-level features are kept and no
#   gradient is computed at the two highest resolutions (full width:
#   0.146-0.150 against 0.175-0.19 s a step, benchmarks/quickstart_step.py
#   setting 'frozen1'; at half width the gain is within the noise);
# - stage 1's 12 x 12 x 12 volume and heatmap regulariser (2D heatmap and
#   depth marginal, weighing 4x; in these trainings alone its effect is
#   within their run-to-run spread: the README's "Results"), its
#   decoded-image cache and FastRandomBBoxTransform;
# - the test loop's forward pass in bfloat16 too (test_cfg.fp16: MMEngine's
#   autocast, bfloat16 on a CPU).
_base_ = [
    './td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py',
    '../../../_base_/quickstart_w32.py'
]

optim_wrapper = dict(
    type='BF16OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-3, fused=True))

width = 32
model = dict(
    backbone=dict(base_channels=width, stem_channels=width, frozen_stages=1),
    neck=dict(in_channels=8 * width),
    head={{_base_.coarse_head}})
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)
train_pipeline = [
    dict(type='LoadImageOrSkip', cache_mb={{_base_.image_cache_mb}}),
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
test_pipeline = [
    dict(
        type='LoadImageOrSkip',
        test_mode=True,
        cache_mb={{_base_.image_cache_mb}}),
    dict(type='GetBBoxCenterScale'),
    dict(type='ContiguousTopdownAffine', input_size={{_base_.input_size}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
