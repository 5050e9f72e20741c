"""The numbers the SL-Swin paper published (He, Chen & Zhong 2023; Section 3.4 and Tables 1-6).

Reference values to show beside ours, never used to compute anything.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["DATASET_EVENTS", "MEGC2021_F1", "MEGC2022_F1", "TABLE4_ME_F1", "TABLE5_ME_F1", "PEERS_OVERALL_F1", "published_f1"]

#: expression events of the real long-video sets (Section 3.1): CAS(ME)^2 and SAMM-LV
DATASET_EVENTS = {"casme2": {"me": 57, "mae": 300}, "samm_lv": {"me": 159, "mae": 343}}
#: Tables 2-3: MEGC 2021 LOSO F1 of SL-Swin-T, per data set and type
MEGC2021_F1 = {
    "casme2": {"mae": 0.2236, "me": 0.0879, "overall": 0.1824},
    "samm_lv": {"mae": 0.1675, "me": 0.1044, "overall": 0.1357},
}
#: Table 1: MEGC 2022 overall F1 (CAS(ME)^3 clips, SAMM Challenge videos, both)
MEGC2022_F1 = {"cas": 0.1944, "samm": 0.0898, "overall": 0.1366}
#: Table 4: CAS(ME)^2 ME F1 of the architecture ablation (from the authors' code notes)
TABLE4_ME_F1 = {"vit_base": 0.0158, "sl_vit_base": 0.0940, "swin_tiny": 0.0783, "l_swin_tiny": 0.0493,
                "s_swin_tiny": 0.0749, "sl_swin_tiny": 0.0879}
#: Table 5: CAS(ME)^2 ME F1 of SL-Swin-T with original vs pseudo labels
TABLE5_ME_F1 = {"original": 0.0841, "pseudo": 0.0879}
#: Peers on MEGC 2021, overall F1 (CAS(ME)^2, SAMM-LV)
PEERS_OVERALL_F1 = {"MDMD baseline": (0.0376, 0.0445), "SOFTNet": (0.2022, 0.1881), "3D-CNN": (0.1675, 0.1084),
                    "MTSN": (0.3620, 0.2867), "AUW-GCN": (0.3834, 0.3728), "SL-Swin (paper)": (0.1824, 0.1357)}


def published_f1(dataset: str) -> pd.Series:
    """Published SL-Swin-T MEGC 2021 F1 per type for ``casme2`` or ``samm_lv`` (empty otherwise)."""
    return pd.Series(MEGC2021_F1.get(dataset, {}), name="published F1", dtype=float)
