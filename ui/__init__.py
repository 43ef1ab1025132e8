"""Dialogs of the plugin (settings and sign-in, dependency check). Desktop GUI only: the Processing
algorithms and qgis_process never import this package, so no dialog opens in headless runs."""
