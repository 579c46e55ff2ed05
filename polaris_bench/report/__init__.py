"""What a person reads: leaderboard and comparison tables (``tables``) and length
curves (``plots``), rendered from the results store."""
