"""Training and the MEGC protocols (SPEC 2.4, 3, 4).

* :mod:`.labels`     original and pseudo labels
* :mod:`.samples`    training arrays: downsampling, ME augmentation, min-max normalisation
* :mod:`.trainer`    the training loop with per-epoch checkpoints, resume and prediction
* :mod:`.protocols`  LOSO (MEGC 2021) and train-on-2021 / test-on-2022 (MEGC 2022), folds on Dask
"""
