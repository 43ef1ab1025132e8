"""The smdownscale engine: numpy, GDAL, scikit-learn and earthengine-api only (no QGIS).

Functions take paths or arrays plus ``progress(fraction)`` and ``is_canceled()`` callables and raise
:class:`~.errors.SmdError` subclasses with messages a user can act on.
"""
