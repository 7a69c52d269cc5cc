"""The output folder: files written there without following links, and one run at a time holding it."""
