"""Statistics over many scores: bootstrap intervals, paired comparisons, length-curve
slopes (``inference``) and pairwise ratings (``ratings``: Glicko-2, Bradley-Terry)."""

N_RESAMPLES = 2000  # the default of every bootstrap in the project (CIs and ratings)
CONFIDENCE = 0.95
