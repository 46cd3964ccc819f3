//! afpacket port (to be written).
