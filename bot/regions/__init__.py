"""Places: the gazetteer of Ukraine and Russia and region matching."""
