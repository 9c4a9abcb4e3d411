"""Pure rules of Jingtu: no I/O, no framework imports (standard library and shapely only)."""
