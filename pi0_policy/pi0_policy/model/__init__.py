"""π₀ in plain PyTorch (no ROS): config.py (sizes), pi0.py (network), flow_matching.py (time convention,
Euler sampler), rtc.py (real-time-chunking guidance), weights.py (checkpoint folders), tokenizer.py (prompts).

Submodules are imported explicitly (``from pi0_policy.model.pi0 import Pi0Model``) so that importing one
does not pull in the others.
"""
