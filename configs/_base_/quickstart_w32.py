# What the quick start's half-width configs share (synthetic/*w32*): the
# stage-1 2D model's head, which its 3D trainings load whole, and the
# decoded-image cache's budget (MiB). Their comments give the measurements.
coarse_head = dict(
    depth_bins=12,
    deconv_out_channels=(128, 128),
    deconv_kernel_sizes=(4, 4),
    heatmap_sigma=0.5,
    heatmap_loss_weight=4.0)
image_cache_mb = 2048
