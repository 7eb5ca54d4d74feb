"""pprl command-line front end (import name pprl_cli)."""
