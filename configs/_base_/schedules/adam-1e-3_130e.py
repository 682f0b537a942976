# Pose ResNet schedule of the paper: Adam, lr 1e-3, batch 16, 130 epochs,
# x0.1 at epochs 84 and 111. (EpipolarPose's was 140 epochs with x0.1 at 90
# and 120; the milestones are scaled by 130/140 and rounded.)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=500, start_factor=0.001,
        by_epoch=False),  # warm-up
    dict(
        type='MultiStepLR',
        begin=0,
        end=130,
        milestones=[84, 111],
        gamma=0.1,
        by_epoch=True)
]
auto_scale_lr = dict(base_batch_size=16)
