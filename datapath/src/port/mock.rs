//! mock port (to be written).
