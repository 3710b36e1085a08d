"""Browser tests: JupyterLab driven by headless Chromium (marker ``browser``)."""
