//! VRRP adverts read back from a packet capture (placeholder, being written).
