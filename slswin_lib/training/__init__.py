"""Training one model (paper Section 3.3): labels, training arrays, the training loop.

* :mod:`.labels`   original and pseudo labels (Section 2.4, Table 5)
* :mod:`.samples`  training arrays: downsampling, ME augmentation, min-max normalisation
* :mod:`.stream`   the same training set streamed from memory-mapped feature files (what folds use)
* :mod:`.trainer`  the training loop with checkpoints, resume and prediction

The protocols that train one model per fold (LOSO, MEGC 2022) live in :mod:`slswin_lib.experiment`.
"""
