"""Grid constants shared by the engine: SMAP's own EASE-Grid 2.0 lattices (EPSG:6933).

NSIDC distributes SMAP L3/L4 on the global EASE-Grid 2.0 (Brodzik et al. 2012), centred on (0, 0) in
EPSG:6933 metres: 3856 x 1624 cells of 9008.055210146 m (the 9 km grid) and 964 x 406 cells of
36032.220840584 m (36 km). The sample scene (``sample.py``), the Earth Engine chain (``gee/fetch.py``,
``gee/server.py``) and the tests snap to these cells.
It also holds Earth Engine's nominal metres per degree (the scale arithmetic of :mod:`.gee.expressions`).
Plain numbers only: this module imports nothing, so any engine module can use it without an import cycle.
"""

from __future__ import annotations

#: The CRS of the lattices (EASE-Grid 2.0 global, cylindrical equal area).
EASE_CRS = "EPSG:6933"
#: The 9 km lattice: cell size (m), columns and rows.
EASE_CELL = 9008.055210146
EASE_COLS = 3856
EASE_ROWS = 1624
#: Its upper-left corner (m), as NSIDC documents it: (-cols / 2, rows / 2) cells from (0, 0), to 1e-7 m.
EASE_X0 = -17367530.445161372
EASE_Y0 = 7314540.830638504
#: The 36 km lattice (4 x 4 cells of the 9 km one): cell size (m), columns and rows.
EASE_CELL_36KM = 36032.220840584
EASE_COLS_36KM = 964
EASE_ROWS_36KM = 406

#: Earth Engine's nominal metres per degree of a geographic CRS (2 pi 6378137 / 360).
NOMINAL_METRES_PER_DEGREE = 111319.49079327357

__all__ = ["EASE_CELL", "EASE_CELL_36KM", "EASE_COLS", "EASE_COLS_36KM", "EASE_CRS", "EASE_ROWS", "EASE_ROWS_36KM",
           "EASE_X0", "EASE_Y0", "NOMINAL_METRES_PER_DEGREE"]
