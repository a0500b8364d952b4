"""Post-training π₀ on converted teleoperation datasets (``python -m pi0_policy.train``)."""
