# Stage 1 of the quick start (tools/quickstart.py): the 2D pre-training of
# td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96.py on a ResNet-18 of
# half the width (w32: 32 to 256 channels instead of 64 to 512), with
# - a 2D head (depth_bins=1): the volume's depth is never supervised here,
#   and the 3D trainings load this head into each of their 24 depth bins
#   (VolumetricHeatmapHead), which then predict this model's 2D at the
#   middle depth; without the 24-bin volume (its softmax, the final layer's
#   384 channels) a training step costs about 0.75x;
# - Adam at 5e-3 (warm-up over 100 iterations, tenfold lower for the last
#   quarter), 2400 iterations (8 epochs of the 4800 views);
# - the forward pass in bfloat16 (BF16OptimWrapper; the test PCK too),
#   Adam's fused kernel and the data loaded in the training process;
# - the heatmap regulariser weighing 4x: a joint put between its left and
#   right candidates costs the Jensen-Shannon term far more than the
#   coordinate loss, which only sees half their distance, so the network
#   is pushed sooner to tell front from back (full width, 1200
#   iterations, seed 0: test PCK 0.606 against 0.511 at weight 1, labels
#   94.4 against 123.3 mm, self-supervised 165.5 against 183.5 mm).
# Test PCK@0.05 after 1800 iterations, seed 0 (2026-12-03): 0.683, 0.711
# and 0.719 with the 2D head at 1e-3, 2e-3 and 3e-3; the 24-bin head at
# 1e-3 and 2e-3: 0.674 and 0.695. After 2100: 0.738 at 3e-3 and 0.760 at
# 5e-3 (the 24-bin head at 1e-3 needed 2400 iterations for 0.739).
# Why half the width: the labels follow the 2D model's accuracy closely,
# and the 2D model its iterations, while on a CPU a step costs the
# convolutions' work, which scales with the square of the width: a
# half-width step costs 0.47x in bfloat16 (benchmarks/quickstart_step.py,
# 'bf16+fused+w32' against 'bf16+fused': 0.133 against 0.285 s on 2
# AVX-512 BF16 cores, 2026-12-03).
_base_ = ['./td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96.py']

width = 32
model = dict(
    backbone=dict(base_channels=width, stem_channels=width),
    neck=dict(in_channels=8 * width),
    head=dict(depth_bins=1, heatmap_loss_weight=4.0))
optim_wrapper = dict(
    type='BF16OptimWrapper',
    optimizer=dict(type='Adam', lr=5e-3, fused=True))
max_epochs = 8
max_iters = 300 * max_epochs
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=100, start_factor=0.01,
        by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        milestones=[max_iters * 3 // 4],
        gamma=0.1,
        by_epoch=False)
]
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
