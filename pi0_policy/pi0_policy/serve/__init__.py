"""openpi's websocket protocol, both ways: a server for openpi clients (``python -m pi0_policy.serve``)
and the client the policy node uses to run a remote server (``backend:=openpi``)."""
