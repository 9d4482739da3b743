"""Writing results: tables (CSV, Markdown, terminal) and crash-safe run folders.

``cartsim.report.tables`` turns result rows into exact machine-readable CSV and
human-readable Markdown; ``cartsim.report.files`` writes them to disk atomically,
guards a results folder against concurrent runs and builds the run manifest.
"""
