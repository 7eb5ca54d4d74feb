"""Privacy: hardening of encodings and attack-based audits."""
