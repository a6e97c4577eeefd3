"""An experiment from config to run files: planning, engines (local, Ray), search with cross-
validation, the experiment folder.
"""
