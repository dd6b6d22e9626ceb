"""Keys: who can open what, mission and recovery keys, keyring administration,
rewrap, status, verification, and retention (crypto-shredding), with their
audit entries.
"""
