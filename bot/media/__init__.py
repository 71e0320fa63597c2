"""Media kept: photos and documents of watched channels, downloaded and stored by content."""
