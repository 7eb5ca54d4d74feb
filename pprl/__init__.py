"""pprl: privacy-preserving linkage verification.

Data holders encode identity records locally into Bloom-filter encodings (CLKs)
and keyed link-key pseudonyms; a central matcher, which never holds the secret,
compares encodings to verify claimed links.

Data flows one way: read -> normalize -> encode -> store -> compare -> decide -> report.
"""

#: The version, written only here: pyproject.toml reads it (``dynamic = ["version"]``).
__version__ = "0.1.0"
