"""The player web page at `/`: a static client of the public /v1 API."""
