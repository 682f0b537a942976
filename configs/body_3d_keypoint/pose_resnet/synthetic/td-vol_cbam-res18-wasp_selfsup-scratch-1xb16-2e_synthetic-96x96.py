# Transfer-learning ablation on the embedded dataset: the same pseudo-labels
# (stage 1 is shared with the main self-supervised config), but the 3D
# network starts from random weights instead of the stage-1 weights.
_base_ = ['./td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py']

pseudo_labels = dict(init_from_teacher=False)
