//! tap port (to be written).
