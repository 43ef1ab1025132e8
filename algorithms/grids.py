"""Grid constants shared by the engine: the SMAP EASE-Grid 2.0 lattice and Earth Engine's nominal degree.

One definition for the sample scene (:mod:`.sample`), the Earth Engine fetch and the server-side chain
(:mod:`.gee.fetch`, :mod:`.gee.server`) and the scale arithmetic of the expressions (:mod:`.gee.expressions`).
Plain numbers only: this module imports nothing, so any engine module can use it without an import cycle.
"""

from __future__ import annotations

#: EASE-Grid 2.0 global 9 km (SMAP L3/L4): cell size and upper-left corner in EPSG:6933 metres.
EASE_CELL = 9008.055210146
EASE_X0 = -17367530.445161372
EASE_Y0 = 7314540.830638504
#: Columns and rows of the global 9 km lattice.
EASE_COLS = 3856
EASE_ROWS = 1624
EASE_CRS = "EPSG:6933"

#: Earth Engine's nominal metres per degree of a geographic CRS (2 pi 6378137 / 360).
NOMINAL_METRES_PER_DEGREE = 111319.49079327357
