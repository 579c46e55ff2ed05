"""Statistics over many scores: bootstrap intervals, paired comparisons, length-curve
slopes (``inference``) and pairwise ratings (``ratings``: Glicko-2, Bradley-Terry)."""
