"""smdownscale: downscale SMAP soil moisture to 1 km with machine learning (QGIS plugin)."""


def classFactory(iface):
    """Entry point QGIS calls to create the plugin; imports lazily so the engine stays QGIS-free."""
    from .plugin import SmDownscalePlugin
    from .processing_provider.i18n import install_translator

    install_translator()  # before the provider exists, so qgis_process also gets translated names
    return SmDownscalePlugin(iface)
